// Pool-wide caps across 3 replicas sharing state through an in-memory hub (virtual time, a round trip of 2 ms):
// whatever the traffic split, a tenant's requests in flight over the pool never exceed its concurrency cap and
// its queued requests never exceed its queue cap (caps >= 8 x replicas: the exact case of the stated bound); a
// tenant served by one replica alone reaches cap - (n - 1) b; local-only, each replica enforces ceil(cap / n).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { FlowController, type PoolLimitsOptions } from '../../../src/flowcontrol/index.js';
import { LimitsChannel, MemoryHub, SharedStateExchange, budgetSlack } from '../../../src/sharedstate/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { SettableSaturation } from '../../support/settable-saturation.js';

const T = 20;
const N = 3;

class Pool {
  readonly clock = new ManualClock(0);
  readonly hub = new MemoryHub(this.clock);
  readonly controllers: FlowController[] = [];
  readonly channels: LimitsChannel[] = [];
  readonly exchanges: SharedStateExchange[] = [];
  readonly inflight = new Map<string, number>();
  readonly queued = new Map<string, number>();
  maxInflight = new Map<string, number>();
  maxQueued = new Map<string, number>();
  refused = 0;
  private seq = 0;

  constructor(limits: PoolLimitsOptions) {
    this.hub.latencyMs = 2;
    for (let r = 0; r < N; r++) {
      const channel = new LimitsChannel();
      const exchange = new SharedStateExchange({ transport: this.hub.transport(), origin: `r${r}`, clock: this.clock, syncIntervalMs: T });
      exchange.register(channel);
      this.channels.push(channel);
      this.exchanges.push(exchange);
      this.controllers.push(new FlowController({ saturation: new SettableSaturation(0), clock: this.clock, limits, limitBudget: channel, defaultTtlMs: Infinity }));
    }
  }

  async start(): Promise<void> {
    for (const e of this.exchanges) e.start();
    await this.advance(3 * T);
  }

  private bump(map: Map<string, number>, max: Map<string, number>, tenant: string, by: number): void {
    const v = (map.get(tenant) ?? 0) + by;
    map.set(tenant, v);
    if (v > (max.get(tenant) ?? 0)) max.set(tenant, v);
  }

  /** A request of `tenant` at `replica` that runs `holdMs` once dispatched. */
  send(replica: number, tenant: string, holdMs: number): void {
    let queued = false;
    let settled = false;
    const ctl = this.controllers[replica]!;
    ctl.enqueue(
      { id: `q${this.seq++}`, fairnessId: tenant, priority: 0, byteSize: 1, estimatedCost: 1 },
      (o) => {
        settled = true;
        if (queued) this.bump(this.queued, this.maxQueued, tenant, -1);
        if (o.kind === 'rejected') this.refused++;
        if (o.kind !== 'dispatched') return;
        this.bump(this.inflight, this.maxInflight, tenant, 1);
        this.clock.setTimeout(() => {
          this.bump(this.inflight, this.maxInflight, tenant, -1);
          o.lease.release();
        }, holdMs);
      },
    );
    // No outcome when enqueue returned: the request is queued (a refusal or a fast-path dispatch comes at once).
    if (!settled) {
      queued = true;
      this.bump(this.queued, this.maxQueued, tenant, 1);
    }
  }

  async advance(ms: number): Promise<void> {
    for (let i = 0; i < ms; i++) {
      this.clock.advance(1);
      await flushMicrotasks(2);
    }
  }

  async close(): Promise<void> {
    for (const c of this.controllers) await c.close();
    for (const e of this.exchanges) await e.close();
  }
}

describe('pool-wide caps across replicas (virtual time)', () => {
  it('a tenant\'s pool-wide requests in flight never exceed its concurrency cap, whatever the traffic split over 3 replicas (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 8 * N, max: 60 }),
        fc.array(fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 9 }), fc.nat({ max: 9 })), { minLength: 2, maxLength: 2 }),
        fc.array(fc.tuple(fc.nat({ max: 1 }), fc.nat({ max: 999 }), fc.integer({ min: 5, max: 150 })), { minLength: 200, maxLength: 400 }),
        async (cap, splits, arrivals) => {
          const pool = new Pool({ tenant: { maxConcurrency: cap } });
          await pool.start();
          const tenants = ['a', 'b'];
          for (const [t, x, hold] of arrivals) {
            const split = splits[t]!;
            const total = split[0] + split[1] + split[2];
            const pick = total === 0 ? 0 : x % total < split[0] ? 0 : x % total < split[0] + split[1] ? 1 : 2;
            pool.send(pick, tenants[t]!, hold);
            if (x % 3 === 0) await pool.advance(1);
          }
          await pool.advance(400);
          // Every request gets its outcome: nothing stays stuck behind a cap (the backlog drains at cap / hold).
          const busy = (): number => pool.controllers.reduce((n, c) => n + c.stats().queuedRequests + c.stats().inflight, 0);
          for (let waited = 0; busy() > 0 && waited < 30_000; waited += 50) await pool.advance(50);
          expect(busy()).toBe(0);
          for (const t of tenants) expect(pool.maxInflight.get(t) ?? 0).toBeLessThanOrEqual(cap);
          await pool.close();
        },
      ),
      { numRuns: 10 },
    );
  }, 120_000);

  it('a tenant\'s pool-wide queued requests never exceed its queue cap, whatever the split (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 8 * N, max: 40 }),
        fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 9 }), fc.nat({ max: 9 })),
        fc.array(fc.nat({ max: 999 }), { minLength: 50, maxLength: 150 }),
        async (cap, split, arrivals) => {
          // A concurrency cap of 1 keeps nearly everything queued.
          const pool = new Pool({ tenant: { maxConcurrency: 1, maxQueued: cap } });
          await pool.start();
          const total = split[0] + split[1] + split[2];
          for (const x of arrivals) {
            const pick = total === 0 ? 0 : x % total < split[0] ? 0 : x % total < split[0] + split[1] ? 1 : 2;
            pool.send(pick, 'a', 1_000);
            if (x % 4 === 0) await pool.advance(1);
          }
          await pool.advance(2 * T);
          const queued = pool.controllers.reduce((n, c) => n + c.queuedFor('a'), 0);
          expect(pool.maxQueued.get('a') ?? 0).toBeLessThanOrEqual(cap);
          expect(queued).toBeLessThanOrEqual(cap);
          await pool.close();
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);

  it('a tenant served by one replica alone reaches cap - (n - 1) b in flight, within a few sync intervals', async () => {
    const cap = 48;
    const pool = new Pool({ tenant: { maxConcurrency: cap } });
    await pool.start();
    for (let i = 0; i < 2 * cap; i++) pool.send(0, 'a', 10_000);
    await pool.advance(5 * T);
    expect(pool.inflight.get('a')).toBe(cap - (N - 1) * budgetSlack(cap, N));
    await pool.close();
  });

  it('a cap spread over replicas follows the demand: a second replica\'s backlog gets its share as the first one\'s requests end', async () => {
    const cap = 48;
    const pool = new Pool({ tenant: { maxConcurrency: cap } });
    await pool.start();
    for (let i = 0; i < 200; i++) pool.send(0, 'a', 50);
    await pool.advance(3 * T);
    for (let i = 0; i < 200; i++) pool.send(1, 'a', 50);
    await pool.advance(10 * T);
    const on = (r: number): number => pool.controllers[r]!.stats().inflight;
    expect(on(0) + on(1)).toBeLessThanOrEqual(cap);
    // Equal backlogs: each holds about half of what the slack of the others leaves.
    expect(Math.abs(on(0) - on(1))).toBeLessThanOrEqual(2 * budgetSlack(cap, N) + 2);
    await pool.close();
  });

  it('local-only, each replica enforces ceil(cap / n) of the n it last saw, and takes its granted part back at rejoin', async () => {
    const cap = 30;
    const pool = new Pool({ tenant: { maxConcurrency: cap } });
    await pool.start();
    pool.hub.setReachable(false);
    await pool.advance(2 * T);
    expect(pool.exchanges.every((e) => !e.isUp)).toBe(true);
    for (let r = 0; r < N; r++) for (let i = 0; i < cap; i++) pool.send(r, 'a', 100_000);
    await pool.advance(T);
    for (let r = 0; r < N; r++) expect(pool.controllers[r]!.stats().inflight).toBe(Math.ceil(cap / N));
    pool.hub.setReachable(true);
    await pool.advance(5 * T);
    expect(pool.exchanges.every((e) => e.isUp)).toBe(true);
    expect(pool.inflight.get('a')).toBeLessThanOrEqual(cap);
    await pool.close();
  });
});
