import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplicaSim, maxServiceInWindow, worstServiceGap } from '../../support/replica-sim.js';

const T = 10;
const L = 2;
/** How old another replica's figures can be: its own interval before it published, ours before we read, the trip. */
const STALENESS = 2 * T + L;

/** First dispatch index at which some tenant's pool-wide backlog emptied (comparisons stop before it). */
function backloggedUntil(sim: ReplicaSim, tenants: readonly string[]): number {
  let until = sim.dispatches.length;
  for (const t of tenants) {
    if (sim.queuedOf(t) > 0) continue;
    let last = -1;
    sim.dispatches.forEach((d, i) => {
      if (d.tenant === t) last = i;
    });
    until = Math.min(until, last);
  }
  return until;
}

interface Trace {
  readonly splits: number[][];
  readonly costs: number[][];
  readonly weights: number[];
  readonly gate: { limit: number; releases: number; advance: number }[];
}

async function run(trace: Trace, shared: boolean): Promise<{ sim: ReplicaSim; tenants: string[] }> {
  const tenants = trace.costs.map((_, i) => `t${i}`);
  const weights = Object.fromEntries(tenants.map((t, i) => [t, trace.weights[i]!]));
  const sim = new ReplicaSim({ replicas: 3, shared, syncIntervalMs: T, latencyMs: L, weights });
  // Each tenant sends its requests to the replicas in its own random proportions (a split of 0 skips a replica).
  tenants.forEach((t, i) => {
    const split = trace.splits[i]!;
    const total = split.reduce((a, b) => a + b, 0);
    trace.costs[i]!.forEach((cost, k) => {
      let x = ((k * 0.618_033_988_75) % 1) * total;
      let r = 0;
      while (r < split.length - 1 && x >= split[r]!) x -= split[r++]!;
      sim.enqueue(r, t, cost);
    });
  });
  await sim.start();
  for (const g of trace.gate) await sim.step(g.limit, g.releases, g.advance);
  return { sim, tenants };
}

const split = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }).filter((s) => s.some((x) => x > 0));
const trace = (tenants: number): fc.Arbitrary<Trace> =>
  fc.record({
    splits: fc.array(split, { minLength: tenants, maxLength: tenants }),
    costs: fc.array(fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 120, maxLength: 120 }), { minLength: tenants, maxLength: tenants }),
    weights: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: tenants, maxLength: tenants }),
    gate: fc.array(fc.record({ limit: fc.integer({ min: 1, max: 4 }), releases: fc.integer({ min: 0, max: 3 }), advance: fc.integer({ min: 1, max: 4 }) }), {
      minLength: 150,
      maxLength: 150,
    }),
  });

describe('weighted-fair shared across replicas', () => {
  it('stated bound over 3 replicas with random traffic splits: pool-wide weighted service of backlogged tenants stays within C + H + E (weighted-fair-shared.ts)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }).chain((n) => trace(n)), async (tr) => {
        const { sim, tenants } = await run(tr, true);
        try {
          const until = backloggedUntil(sim, tenants);
          const ds = sim.dispatches;
          let c = 0;
          for (let k = 0; k < until; k++) c = Math.max(c, ds[k]!.charge);
          // H = max(C, D): D is at most what the pool served between two syncs as seen, i.e. within T + STALENESS.
          const h = Math.max(c, maxServiceInWindow(ds, T + STALENESS, until));
          // E: what the other replicas gave one tenant within the staleness window.
          let e = 0;
          for (const t of tenants) {
            for (let r = 0; r < 3; r++) {
              e = Math.max(e, maxServiceInWindow(ds, STALENESS, until, (d) => d.tenant === t && d.replica !== r));
            }
          }
          expect(worstServiceGap(ds, tenants, until)).toBeLessThanOrEqual(c + h + e + 1e-6);
        } finally {
          await sim.close();
        }
      }),
      { numRuns: 25 },
    );
  });

  it('a tenant queued on one replica gets its fair share of the pool against a tenant spread over the other two; independent replicas give it a third', async () => {
    const gate = Array.from({ length: 400 }, () => ({ limit: 3, releases: 3, advance: 2 }));
    const tr = (): Trace => ({
      splits: [
        [1, 0, 0],
        [0, 1, 1],
      ],
      costs: [Array(400).fill(100) as number[], Array(400).fill(100) as number[]],
      weights: [1, 1],
      gate,
    });
    const shares = async (shared: boolean): Promise<number> => {
      const { sim } = await run(tr(), shared);
      try {
        const first = sim.dispatches.slice(0, 600);
        return first.filter((d) => d.tenant === 't0').length / first.length;
      } finally {
        await sim.close();
      }
    };
    const shared = await shares(true);
    const independent = await shares(false);
    expect(shared).toBeGreaterThan(0.45);
    expect(shared).toBeLessThan(0.55);
    expect(independent).toBeLessThan(0.4);
  });

  it('store down: replicas go local-only (no hold, nothing lost); back, even wiped: fair again at once, with no catch-up burst for the tenant the outage favoured', async () => {
    const gate = (n: number) => Array.from({ length: n }, () => ({ limit: 3, releases: 3, advance: 2 }));
    const tr: Trace = {
      splits: [
        [1, 0, 0],
        [0, 1, 1],
      ],
      costs: [Array(1_200).fill(100) as number[], Array(1_200).fill(100) as number[]],
      weights: [1, 1],
      gate: gate(150),
    };
    const { sim } = await run(tr, true);
    try {
      const shareOfT0 = (from: number, to: number): number => {
        const ds = sim.dispatches.slice(from, to);
        return ds.filter((d) => d.tenant === 't0').length / Math.max(1, ds.length);
      };
      expect(shareOfT0(100, sim.dispatches.length)).toBeGreaterThan(0.45);
      sim.hub.setReachable(false);
      const downAt = sim.dispatches.length;
      for (const g of gate(300)) await sim.step(g.limit, g.releases, g.advance);
      expect(sim.exchanges.every((e) => !e.isUp)).toBe(true);
      // Local-only: nothing waits for the store (no replica holds), so the pool keeps dispatching.
      expect(sim.dispatches.length - downAt).toBeGreaterThan(500);
      sim.hub.wipe();
      sim.hub.setReachable(true);
      const upAt = sim.dispatches.length;
      for (const g of gate(150)) await sim.step(g.limit, g.releases, g.advance);
      expect(sim.exchanges.every((e) => e.isUp)).toBe(true);
      // Within the first 50 ms of virtual time after the rejoin the split is fair again, not all t0.
      const share = shareOfT0(upAt + 20, sim.dispatches.length);
      expect(share).toBeGreaterThan(0.4);
      expect(share).toBeLessThan(0.6);
    } finally {
      await sim.close();
    }
  });
});
