import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { FlowController, type Lease } from '../../../src/flowcontrol/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { ConcurrencyLimitSaturation } from '../../support/settable-saturation.js';

interface Served {
  tenant: string;
  cost: number;
}

/**
 * Loads every tenant's backlog behind a closed gate, then opens the gate in a random pattern of capacity changes
 * and releases (varying dispatch capacity). Returns the dispatch order.
 */
async function drive(opts: {
  fairness: string;
  backlogs: Record<string, number[]>;
  weights?: Record<string, number>;
  gate: Array<{ limit: number; releases: number }>;
  /** Tenants that join later, after this many dispatches. */
  late?: { after: number; backlogs: Record<string, number[]> };
}): Promise<{ served: Served[]; remaining: (tenant: string) => number; lateJoinAt: number }> {
  const clock = new ManualClock();
  const saturation = new ConcurrencyLimitSaturation(1);
  saturation.inflight = 1;
  const ctl = new FlowController({
    saturation,
    clock,
    defaultTtlMs: Infinity,
    bandTemplate: { fairness: opts.fairness, maxRequests: Infinity },
    tenantWeights: opts.weights ?? {},
  });
  const served: Served[] = [];
  const leases: Lease[] = [];
  const queued = new Map<string, number>();
  const enqueue = (tenant: string, cost: number): void => {
    queued.set(tenant, (queued.get(tenant) ?? 0) + 1);
    void ctl.enqueueAndWait(
      { id: `${tenant}-${cost}`, fairnessId: tenant, priority: 0, byteSize: 1, estimatedCost: cost },
      {
        onDispatch: (lease) => {
          served.push({ tenant, cost });
          queued.set(tenant, (queued.get(tenant) ?? 0) - 1);
          leases.push(lease);
          saturation.begin();
        },
      },
    );
  };
  for (const [tenant, costs] of Object.entries(opts.backlogs)) for (const c of costs) enqueue(tenant, c);
  await flushMicrotasks(2);
  saturation.inflight = 0;
  let lateJoinAt = -1;
  for (const g of opts.gate) {
    for (let r = 0; r < g.releases && leases.length > 0; r++) {
      leases.shift()!.release();
      saturation.inflight--;
    }
    saturation.setLimit(g.limit);
    await flushMicrotasks(2);
    if (opts.late !== undefined && lateJoinAt < 0 && served.length >= opts.late.after) {
      lateJoinAt = served.length;
      for (const [tenant, costs] of Object.entries(opts.late.backlogs)) for (const c of costs) enqueue(tenant, c);
      await flushMicrotasks(2);
    }
  }
  await ctl.close();
  return { served, remaining: (t) => queued.get(t) ?? 0, lateJoinAt };
}

const costs = (n: number) => fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: n, maxLength: n });
const gatePattern = fc.array(
  fc.record({ limit: fc.integer({ min: 1, max: 6 }), releases: fc.integer({ min: 0, max: 6 }) }),
  { minLength: 20, maxLength: 80 },
);

/** Largest |S_i/w_i - S_j/w_j| over all prefixes of `served` during which every tenant of `tenants` had backlog. */
function worstGap(served: Served[], tenants: string[], weight: (t: string) => number, from: number, until: number) {
  const s = new Map(tenants.map((t) => [t, 0]));
  let worst = 0;
  let maxCharge = 0;
  for (let k = from; k < until; k++) {
    const d = served[k]!;
    if (!s.has(d.tenant)) continue;
    s.set(d.tenant, s.get(d.tenant)! + d.cost / weight(d.tenant));
    maxCharge = Math.max(maxCharge, d.cost / weight(d.tenant));
    const values = [...s.values()];
    worst = Math.max(worst, Math.max(...values) - Math.min(...values));
  }
  return { worst, maxCharge };
}

/** Index in `served` at which `tenant` dispatched its last request, i.e. stopped being backlogged. */
function backloggedUntil(served: Served[], tenants: string[], remaining: (t: string) => number): number {
  let until = served.length;
  for (const t of tenants) {
    if (remaining(t) > 0) continue;
    let last = -1;
    served.forEach((d, i) => {
      if (d.tenant === t) last = i;
    });
    // Its last dispatch is the moment its backlog emptied; comparisons stop before that dispatch.
    until = Math.min(until, last);
  }
  return until;
}

describe('fairness properties', () => {
  it('weighted-fair bound: two continuously backlogged flows differ by at most 2C in weighted token service, under varying dispatch capacity', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 4, maxLength: 4 }),
        fc.array(costs(40), { minLength: 4, maxLength: 4 }),
        gatePattern,
        async (n, ws, cs, gate) => {
          const tenants = Array.from({ length: n }, (_, i) => `t${i}`);
          const weights = Object.fromEntries(tenants.map((t, i) => [t, ws[i]!]));
          const backlogs = Object.fromEntries(tenants.map((t, i) => [t, cs[i]!]));
          const { served, remaining } = await drive({ fairness: 'weighted-fair', backlogs, weights, gate });
          const until = backloggedUntil(served, tenants, remaining);
          const { worst, maxCharge } = worstGap(served, tenants, (t) => weights[t]!, 0, until);
          expect(worst).toBeLessThanOrEqual(2 * maxCharge + 1e-9);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('weighted-fair: served tokens follow the weights 3:1 when both tenants stay backlogged', async () => {
    const backlogs = { gold: Array(400).fill(100) as number[], bronze: Array(400).fill(100) as number[] };
    const gate = Array.from({ length: 200 }, () => ({ limit: 4, releases: 4 }));
    const { served } = await drive({ fairness: 'weighted-fair', backlogs, weights: { gold: 3, bronze: 1 }, gate });
    const first = served.slice(0, 400);
    const gold = first.filter((d) => d.tenant === 'gold').length;
    expect(gold / (first.length - gold)).toBeCloseTo(3, 1);
  });

  it('no credit hoarding after idle: a returning flow gets no catch-up burst beyond the 2C bound', async () => {
    await fc.assert(
      fc.asyncProperty(costs(60), costs(30), fc.integer({ min: 10, max: 40 }), async (a, b, after) => {
        const gate = Array.from({ length: 60 }, () => ({ limit: 2, releases: 2 }));
        const { served, remaining, lateJoinAt } = await drive({
          fairness: 'weighted-fair',
          backlogs: { a },
          gate,
          late: { after, backlogs: { b } },
        });
        expect(lateJoinAt).toBeGreaterThanOrEqual(after);
        const until = backloggedUntil(served, ['a', 'b'], remaining);
        const { worst, maxCharge } = worstGap(served, ['a', 'b'], () => 1, lateJoinAt, until);
        expect(worst).toBeLessThanOrEqual(2 * maxCharge + 1e-9);
        // Without the lift, b would have owned the pool until it matched a's earlier service.
        const firstAfter = served.slice(lateJoinAt, lateJoinAt + 6).map((d) => d.tenant);
        expect(firstAfter).toContain('a');
      }),
      { numRuns: 60 },
    );
  });

  it('round-robin: dispatch counts of continuously backlogged flows differ by at most one, whatever the costs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 5 }), fc.array(costs(25), { minLength: 5, maxLength: 5 }), gatePattern, async (n, cs, gate) => {
        const tenants = Array.from({ length: n }, (_, i) => `t${i}`);
        const backlogs = Object.fromEntries(tenants.map((t, i) => [t, cs[i]!]));
        const { served, remaining } = await drive({ fairness: 'round-robin', backlogs, gate });
        const until = backloggedUntil(served, tenants, remaining);
        const counts = new Map(tenants.map((t) => [t, 0]));
        for (let k = 0; k < until; k++) {
          const t = served[k]!.tenant;
          counts.set(t, counts.get(t)! + 1);
          const v = [...counts.values()];
          expect(Math.max(...v) - Math.min(...v)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('global-strict: a band is served in one arrival order across tenants', async () => {
    const backlogs = { a: [1, 1, 1], b: [1, 1, 1] };
    // Arrival order is a,a,a,b,b,b (enqueued tenant by tenant), so global-strict serves exactly that.
    const { served } = await drive({ fairness: 'global-strict', backlogs, gate: Array.from({ length: 10 }, () => ({ limit: 1, releases: 1 })) });
    expect(served.map((d) => d.tenant)).toEqual(['a', 'a', 'a', 'b', 'b', 'b']);
  });
});
