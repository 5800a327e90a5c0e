// Budget claims on pool-wide caps through a real redis-server (the Lua script) and through the in-memory hub
// (tests, the workers' primary): the same sequence of rounds gets the same grants from both, each grant leaves
// the others' parts plus every replica's slack within the cap, a part is never taken from its holder, and a
// replica's grant is visible to the others as its own field. A replica silent past its heartbeat window is
// flagged stale, its part is granted to the others (its data kept), and its next plain round is answered `lost`.
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, noopLogger } from '../../../src/core/index.js';
import { createRedisClient } from '../../../src/server/redis-client.js';
import { type BudgetClaim, type ExchangeTransport, MemoryHub, type RoundReply, RedisTransport, budgetSlack } from '../../../src/sharedstate/index.js';
import { FRESH_FIELD } from '../../../src/sharedstate/transport.js';
import { RedisServer } from '../../support/redis-server.js';

const FIELD = 'l|c|a';

function round(t: ExchangeTransport, origin: string, claims: BudgetClaim[], full = false, heartbeatMs = 5_000): Promise<RoundReply> {
  return t.round({ origin, ttlMs: 5_000, heartbeatMs, full, epoch: '1', set: new Map(), del: [], known: new Map(), ...(claims.length > 0 ? { claims } : {}) });
}

const claim = (want: number, used = 0): BudgetClaim => ({ field: FIELD, cap: 24, want, demand: want, used });

/** The sequence: A alone claims 30 of 24; B joins and claims 10; A releases to 5 by a plain write; B claims again. */
async function sequence(t: ExchangeTransport): Promise<{ grants: number[]; peerSeen: string | undefined }> {
  const grants: number[] = [];
  const granted = (r: RoundReply): number => (r.kind === 'ok' ? (r.granted?.get(FIELD) ?? -1) : -1);
  grants.push(granted(await round(t, 'A', [claim(30)], true)));
  await round(t, 'B', [], true);
  grants.push(granted(await round(t, 'B', [claim(10)])));
  // A gives part back: a plain write of its own field (what LimitsChannel does), then B claims again.
  await t.round({ origin: 'A', ttlMs: 5_000, heartbeatMs: 5_000, full: false, epoch: '1', set: new Map([[FIELD, '5,5,5']]), del: [], known: new Map() });
  grants.push(granted(await round(t, 'B', [claim(10, 1)])));
  // A claims more than is left: it keeps what it holds (never below), gets nothing beyond the room.
  grants.push(granted(await round(t, 'A', [claim(24, 5)])));
  const view = await round(t, 'B', []);
  const peerSeen = view.kind === 'ok' ? view.peers.get('A')?.fields?.get(FIELD) : undefined;
  return { grants, peerSeen };
}

/** A holds the whole cap with a short heartbeat, then falls silent past it (`wait`); B claims. */
async function staleSequence(t: ExchangeTransport, wait: () => Promise<void>) {
  const granted = (r: RoundReply): number => (r.kind === 'ok' ? (r.granted?.get(FIELD) ?? -1) : -1);
  const aHeld = granted(await round(t, 'A', [claim(30)], true, 5));
  await wait();
  const b = await round(t, 'B', [claim(10)], true);
  const aAgain = await round(t, 'A', [], false, 5);
  return {
    aHeld,
    bGranted: granted(b),
    aStale: b.kind === 'ok' ? b.peers.get('A')?.stale : undefined,
    aDataKept: b.kind === 'ok' ? b.peers.get('A')?.fields?.get(FIELD) : undefined,
    aAgain: aAgain.kind,
  };
}

describe('budget claims (pool-wide caps)', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  /** Runs `use` with a connected client (no offline queue: a slow Redis fails a round instead of piling up). */
  async function withClient(use: (client: Redis | Cluster) => Promise<void>): Promise<void> {
    const client = createRedisClient({ url: redis.url, commandTimeoutMs: 2_000, logger: noopLogger });
    try {
      if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
      await use(client);
    } finally {
      client.disconnect();
    }
  }

  it('the Redis script and the in-memory hub grant the same parts, within the cap less every replica\'s slack', async () => {
    await withClient(async (client) => {
      const viaRedis = await sequence(new RedisTransport({ client, keyPrefix: '{budget}:' }));
      const viaHub = await sequence(new MemoryHub(new ManualClock(0)).transport());
      expect(viaRedis).toEqual(viaHub);
      const one = budgetSlack(24, 1);
      const two = budgetSlack(24, 2);
      // A alone: 24 less its own slack. B then: what A's part and both slacks leave. A gives back to 5: B gets
      // its 10. A asks for 24: it gets what B's part and both slacks leave.
      expect(viaRedis.grants).toEqual([24 - one, 24 - two - (24 - one + two), 10, Math.max(5, 24 - two - (10 + two))]);
      expect(viaRedis.peerSeen).toBe(`${viaRedis.grants[3]},24,5`);
    });
  });

  it('a stale replica (silent past its heartbeat window) is flagged, counts in no grant, keeps its data, and its next plain round is lost', async () => {
    await withClient(async (client) => {
      // Redis keeps its own clock: waiting 50 ms puts A (heartbeat 5 ms) past its window whatever the load.
      const viaRedis = await staleSequence(new RedisTransport({ client, keyPrefix: '{stale}:' }), () => new Promise((resolve) => setTimeout(resolve, 50)));
      const clock = new ManualClock(0);
      const viaHub = await staleSequence(new MemoryHub(clock).transport(), async () => {
        clock.advance(50);
      });
      expect(viaRedis).toEqual(viaHub);
      expect(viaRedis).toEqual({
        aHeld: 24 - budgetSlack(24, 1),
        bGranted: 10,
        aStale: true,
        aDataKept: `${24 - budgetSlack(24, 1)},30,0`,
        aAgain: 'lost',
      });
    });
  });

  it('a peer written by an older Fairway (no heartbeat mark, as in a rolling upgrade) is not stale: its part still counts', async () => {
    await withClient(async (client) => {
      const t = new RedisTransport({ client, keyPrefix: '{upgrade}:' });
      const granted = (r: RoundReply): number => (r.kind === 'ok' ? (r.granted?.get(FIELD) ?? -1) : -1);
      const aHeld = granted(await round(t, 'A', [claim(30)], true));
      await client.hdel(`{upgrade}:o:A`, FRESH_FIELD);
      const b = await round(t, 'B', [claim(10)], true);
      expect(b.kind === 'ok' ? b.peers.get('A')?.stale : undefined).toBe(false);
      // B gets only what A's part and both slacks leave (were A taken for stale, B would get all 10 it asks for).
      const two = budgetSlack(24, 2);
      expect(aHeld).toBe(24 - budgetSlack(24, 1));
      expect(granted(b)).toBe(Math.max(0, 24 - two - (aHeld + two)));
      expect(granted(b)).toBeLessThan(10);
    });
  });
});
