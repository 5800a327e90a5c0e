// The exchange's timing contract in virtual time (an in-memory hub on a ManualClock): a dead replica leaves the
// others' view within its TTL (3 sync intervals, at least 1 s) of its last round (plus the reader's own interval)
// and a paused one stays in it, a store that stops
// answering turns every replica local-only within one interval (a hung round times out one interval after it began),
// and a store wiped while down gets every replica's data back, once. A replica silent past its heartbeat window
// (3 intervals) is flagged stale to the others while its data stays, and rewrites its data whole when it returns.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import {
  type ChannelWrites,
  type ExchangeChannel,
  type PeerView,
  MemoryHub,
  MIN_DATA_TTL_MS,
  SharedStateExchange,
  sharedStateTtlMs,
} from '../../../src/sharedstate/index.js';
import { flushMicrotasks } from '../../support/flush.js';

const T = 20;

class Counter implements ExchangeChannel {
  readonly id = 'c';
  view: PeerView | undefined;
  applies = 0;
  constructor(public value: number) {}
  collect(all: boolean): ChannelWrites {
    return { set: all ? new Map([['n', String(this.value)]]) : new Map(), del: [] };
  }
  apply(view: PeerView): void {
    this.view = view;
    this.applies++;
  }
  sum(): number {
    let s = 0;
    for (const f of this.view?.peers.values() ?? []) s += Number(f.get('n') ?? 0);
    return s;
  }
}

async function tick(clock: ManualClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await flushMicrotasks(2);
  }
}

function replicas(n: number, latencyMs = 0) {
  const clock = new ManualClock(0);
  const hub = new MemoryHub(clock);
  hub.latencyMs = latencyMs;
  const rs = Array.from({ length: n }, (_, i) => {
    const channel = new Counter(i + 1);
    const exchange = new SharedStateExchange({ transport: hub.transport(), origin: `r${i}`, clock, syncIntervalMs: T });
    exchange.register(channel);
    return { channel, exchange };
  });
  return { clock, hub, rs };
}

describe('shared-state exchange (virtual time)', () => {
  it('the data\'s TTL is ttlIntervals sync intervals, never below MIN_DATA_TTL_MS', () => {
    expect(MIN_DATA_TTL_MS).toBe(1_000);
    expect(sharedStateTtlMs(20, 3)).toBe(MIN_DATA_TTL_MS); // 60 ms would lose a replica to one GC pause
    expect(sharedStateTtlMs(100, 3)).toBe(MIN_DATA_TTL_MS);
    expect(sharedStateTtlMs(500, 3)).toBe(1_500);
    expect(sharedStateTtlMs(20, 100)).toBe(2_000);
    const exchange = new SharedStateExchange({ transport: new MemoryHub(new ManualClock(0)).transport(), origin: 'r', syncIntervalMs: 400 });
    expect(exchange.ttlMs).toBe(1_200);
  });

  it('a replica that stops syncing leaves the others\' view within its TTL of its last round, plus one of the reader\'s, and not before', async () => {
    const { clock, rs } = replicas(2);
    for (const r of rs) r.exchange.start();
    await tick(clock, 3 * T);
    expect(rs[0]!.channel.sum()).toBe(2);
    // r1 dies without withdrawing (its timer stops; its data stays until the TTL).
    (rs[1]!.exchange as unknown as { state: string }).state = 'closed';
    const lastRound = clock.now();
    const ttl = rs[1]!.exchange.ttlMs;
    expect(ttl).toBe(MIN_DATA_TTL_MS); // 3 intervals of 20 ms are below the floor
    let goneAt: number | undefined;
    for (let t = 0; t < ttl + 10 * T && goneAt === undefined; t += 5) {
      await tick(clock, 5);
      if (rs[0]!.channel.sum() === 0) goneAt = clock.now();
    }
    expect(goneAt).toBeDefined();
    // Still seen through a pause of 3 intervals (the TTL without the floor), and of anything shorter than the TTL.
    expect(goneAt! - lastRound).toBeGreaterThan(ttl - T);
    expect(goneAt! - lastRound).toBeLessThanOrEqual(ttl + T + 5);
  });

  it('a replica paused for 10 intervals (200 ms) stays in the others\' view throughout and resumes counted once', async () => {
    const { clock, rs } = replicas(2);
    for (const r of rs) r.exchange.start();
    await tick(clock, 3 * T);
    // r1 stops syncing (its timer stops) as a stalled event loop would, then carries on.
    const paused = rs[1]!.exchange as unknown as { state: string };
    paused.state = 'closed';
    for (let t = 0; t < 10 * T; t += 5) {
      await tick(clock, 5);
      expect(rs[0]!.channel.sum()).toBe(2);
    }
    paused.state = 'new';
    rs[1]!.exchange.start();
    await tick(clock, 3 * T);
    expect(rs[0]!.channel.sum()).toBe(2);
    expect(rs[0]!.exchange.stats().peers).toBe(1);
  });

  it('a store that stops answering turns replicas local-only one interval after the first unanswered round began; refusing, at the next round', async () => {
    const { clock, hub, rs } = replicas(2, 2);
    for (const r of rs) r.exchange.start();
    await tick(clock, 3 * T);
    expect(rs[0]!.exchange.isUp).toBe(true);
    // Hung: rounds never answer (a very slow store).
    hub.latencyMs = 10 * T;
    const hungAt = clock.now();
    while (rs[0]!.exchange.isUp) await tick(clock, 1);
    // The first round sent after the hang begins within T of it and times out T later.
    expect(clock.now() - hungAt).toBeLessThanOrEqual(T + T);
    expect(rs[0]!.channel.view?.connected).toBe(false);
    // Keeps the last view (frozen) for channels that want it.
    expect(rs[0]!.channel.sum()).toBe(2);
  });

  it('after the store comes back wiped, every replica rewrites its data whole and is counted once', async () => {
    const { clock, hub, rs } = replicas(3);
    for (const r of rs) r.exchange.start();
    await tick(clock, 3 * T);
    hub.setReachable(false);
    await tick(clock, 3 * T);
    expect(rs.every((r) => !r.exchange.isUp)).toBe(true);
    hub.wipe();
    hub.setReachable(true);
    await tick(clock, 3 * T);
    expect(rs.every((r) => r.exchange.isUp)).toBe(true);
    expect(rs.map((r) => r.channel.sum())).toEqual([5, 4, 3]);
    expect(hub.liveOrigins().sort()).toEqual(['r0', 'r1', 'r2']);
  });

  it('own data lost while up (the store restarted between two rounds) is rewritten whole at once: peers see it within two intervals', async () => {
    const { clock, hub, rs } = replicas(2);
    for (const r of rs) r.exchange.start();
    await tick(clock, 3 * T);
    hub.wipe();
    await tick(clock, 2 * T + 1);
    expect(rs.map((r) => r.channel.sum())).toEqual([2, 1]);
    expect(rs.every((r) => r.exchange.isUp)).toBe(true);
  });

  it('a silent replica is flagged stale within its heartbeat window (3 intervals) plus one reader interval, its data kept; when it returns it rewrites whole and is fresh again', async () => {
    const { clock, hub, rs } = replicas(2);
    for (const r of rs) r.exchange.start();
    await tick(clock, 3 * T);
    expect(rs[0]!.channel.view?.stale.size).toBe(0);
    const paused = rs[1]!.exchange as unknown as { state: string; fullWrites: number };
    paused.state = 'closed';
    const lastRound = clock.now();
    let staleAt: number | undefined;
    for (let t = 0; t < 10 * T && staleAt === undefined; t += 5) {
      await tick(clock, 5);
      if (rs[0]!.channel.view?.stale.has('r1') === true) staleAt = clock.now();
    }
    expect(staleAt).toBeDefined();
    expect(staleAt! - lastRound).toBeGreaterThan(3 * T - T);
    expect(staleAt! - lastRound).toBeLessThanOrEqual(3 * T + T + 5);
    // Its data (in-flight counts, service) is still there: only the floor's TTL removes it.
    expect(rs[0]!.channel.sum()).toBe(2);
    expect(hub.liveOrigins().sort()).toEqual(['r0', 'r1']);
    const fullBefore = paused.fullWrites;
    paused.state = 'new';
    rs[1]!.exchange.start();
    await tick(clock, 3 * T);
    // The store answered its first round `lost` (stale): the next was a full rewrite.
    expect(paused.fullWrites).toBe(fullBefore + 1);
    expect(rs[0]!.channel.view?.stale.size).toBe(0);
    expect(rs[0]!.channel.sum()).toBe(2);
  });
});
