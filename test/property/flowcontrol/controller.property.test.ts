import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowHarness } from '../../support/flow-harness.js';
import { trace } from './arbitraries.js';

const RUNS = 120;

async function run(steps: Parameters<FlowHarness['step']>[0][], options = {}): Promise<FlowHarness> {
  const h = new FlowHarness({ maxQueuedRequests: 12, maxQueuedBytes: 40_000, defaultTtlMs: 2_000, ...options });
  for (const s of steps) await h.step(s);
  return h;
}

describe('flow controller properties', () => {
  it('conservation: every request gets exactly one outcome, and close leaves no timers, listeners or counts', async () => {
    await fc.assert(
      fc.asyncProperty(trace(), async (steps) => {
        const h = await run(steps);
        await h.close();
        for (const s of h.submitted) {
          expect(s.outcomes.length).toBe(1);
          expect(s.dispatchHooks).toBe(s.outcomes[0]?.kind === 'dispatched' ? 1 : 0);
        }
        expect(h.events.length).toBe(h.submitted.length);
        expect(h.fc.stats().queuedRequests).toBe(0);
        expect(h.fc.stats().queuedBytes).toBe(0);
        expect(h.clock.pendingTimers()).toBe(0);
        expect(h.listeners.live).toBe(0);
        expect(h.saturation.listenerCount).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('strict priority: nothing is dispatched while a higher-priority request is queued', async () => {
    await fc.assert(
      fc.asyncProperty(trace(), async (steps) => {
        const h = await run(steps);
        for (const d of h.dispatches) {
          if (d.highestQueuedPriority !== undefined) expect(d.highestQueuedPriority).toBeLessThanOrEqual(d.priority);
        }
        await h.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('head-of-line gate: no band dispatches while saturation is at or above its ceiling (also with priority holdback)', async () => {
    await fc.assert(
      fc.asyncProperty(trace(), fc.boolean(), async (steps, holdback) => {
        const h = await run(steps, holdback ? { usageLimit: { name: 'priority-holdback', params: { step: 0.2, floor: 0.4 } } } : {});
        for (const d of h.dispatches) {
          // The expected ceiling is computed here from the band's rank, not read back from the controller.
          const expected = holdback ? Math.max(0.4, 1 - 0.2 * d.rank) : 1.0;
          expect(d.rank).toBeGreaterThanOrEqual(0);
          expect(d.saturation).toBeLessThan(expected);
        }
        await h.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('work conservation: after every step, work is queued only if the gate of the highest queued band is closed', async () => {
    await fc.assert(
      fc.asyncProperty(trace(), async (steps) => {
        const h = new FlowHarness({ maxQueuedRequests: 12, defaultTtlMs: 2_000 });
        for (const s of steps) {
          await h.step(s);
          const top = h.fc.stats().bands.find((b) => b.queuedRequests > 0);
          if (top !== undefined) expect(h.saturation.saturation()).toBeGreaterThanOrEqual(top.ceiling);
        }
        await h.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('capacity is never exceeded, globally or per band, in requests or bytes', async () => {
    await fc.assert(
      fc.asyncProperty(trace(150), async (steps) => {
        const h = new FlowHarness({ maxQueuedRequests: 10, maxQueuedBytes: 25_000, bands: [{ priority: 0, maxRequests: 4, maxBytes: 9_000 }] });
        for (const s of steps) {
          await h.step(s);
          const st = h.fc.stats();
          expect(st.queuedRequests).toBeLessThanOrEqual(10);
          expect(st.queuedBytes).toBeLessThanOrEqual(25_000);
          const band0 = st.bands.find((b) => b.priority === 0);
          expect(band0?.queuedRequests ?? 0).toBeLessThanOrEqual(4);
          expect(band0?.queuedBytes ?? 0).toBeLessThanOrEqual(9_000);
          expect(st.bands.reduce((n, b) => n + b.queuedRequests, 0)).toBe(st.queuedRequests);
        }
        await h.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('no request is dispatched at or after its deadline (arrival + effective TTL), even when timers fire late', async () => {
    await fc.assert(
      fc.asyncProperty(trace(), fc.constantFrom(0, 50), async (steps, lateness) => {
        const h = new FlowHarness({ maxQueuedRequests: 12, defaultTtlMs: 1_000 }, 4, lateness);
        for (const s of steps) await h.step(s);
        for (const d of h.dispatches) {
          const s = h.submitted[d.index]!;
          const ttl = Math.min(1_000, s.ttlMs ?? Infinity);
          expect(d.at).toBeLessThan(s.arrivedAt + ttl);
        }
        for (const s of h.submitted) {
          const o = s.outcomes[0];
          // An expired request leaves promptly: at its deadline, give or take the timer's lateness.
          if (o?.kind === 'evicted' && o.reason === 'ttl') {
            const ttl = Math.min(1_000, s.ttlMs ?? Infinity);
            expect(o.waitMs).toBeGreaterThanOrEqual(ttl);
            expect(o.waitMs).toBeLessThanOrEqual(ttl + lateness);
          }
        }
        await h.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('displacement only ever evicts strictly lower priority than the arriving request', async () => {
    await fc.assert(
      fc.asyncProperty(trace(150), async (steps) => {
        const h = await run(steps, { maxQueuedRequests: 5 });
        expect(h.displacementViolations).toEqual([]);
        await h.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('fair-share overflow only evicts, within the same band, a flow holding more queue per unit of weight than the newcomer', async () => {
    let evictions = 0;
    await fc.assert(
      fc.asyncProperty(trace(150), async (steps) => {
        const h = await run(steps, {
          maxQueuedRequests: 100,
          bandTemplate: { maxRequests: 4, overflow: 'fair-share' },
          tenantWeights: { t0: 1, t1: 2, t2: 3, t3: 1, t4: 1 },
        });
        expect(h.fairShareViolations).toEqual([]);
        evictions += h.fairShareEvictions.length;
        await h.close();
      }),
      { numRuns: RUNS },
    );
    // The property must have been exercised, not vacuously true (typically 15-40 evictions over the runs).
    expect(evictions).toBeGreaterThan(0);
  });

  it('a refused request evicts nobody: victims are only taken when the newcomer is then admitted', async () => {
    await fc.assert(
      fc.asyncProperty(trace(150), async (steps) => {
        const h = await run(steps, {
          maxQueuedRequests: 6,
          maxQueuedBytes: 12_000,
          bandTemplate: { maxRequests: 3, overflow: 'fair-share' },
        });
        expect(h.refusedButEvicted).toEqual([]);
        await h.close();
      }),
      { numRuns: RUNS },
    );
  });

  it('determinism: the same trace gives the same dispatch order and outcomes', async () => {
    await fc.assert(
      fc.asyncProperty(trace(), async (steps) => {
        const a = await run(steps);
        const b = await run(steps);
        expect(b.dispatches.map((d) => [d.index, d.at])).toEqual(a.dispatches.map((d) => [d.index, d.at]));
        expect(b.submitted.map((s) => s.outcomes.map((o) => o.kind))).toEqual(a.submitted.map((s) => s.outcomes.map((o) => o.kind)));
        await a.close();
        await b.close();
      }),
      { numRuns: 60 },
    );
  });
});
