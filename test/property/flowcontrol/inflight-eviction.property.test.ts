import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type EvictionStep, EvictionHarness } from '../../support/eviction-harness.js';

const RUNS = 150;

const step: fc.Arbitrary<EvictionStep> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('arrive' as const),
      priority: fc.constantFrom(-3, -2, -1, 0, 2),
      tenant: fc.integer({ min: 0, max: 3 }),
      cost: fc.integer({ min: 1, max: 400 }),
      mode: fc.constantFrom('sync' as const, 'later' as const, 'decline' as const),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('finish' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('progress' as const), pick: fc.nat(), tokens: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'land' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('limit' as const), limit: fc.integer({ min: 1, max: 6 }) }) },
);
const trace = fc.array(step, { minLength: 1, maxLength: 80, size: 'max' });

async function run(steps: EvictionStep[], options = {}): Promise<EvictionHarness> {
  const h = new EvictionHarness(options, 3);
  for (const s of steps) await h.step(s);
  return h;
}

describe('in-flight eviction properties', () => {
  it('victims follow the rule: lowest priority, then least progress, then most remaining tokens, then newest', async () => {
    let calls = 0;
    let withProgress = 0;
    await fc.assert(
      fc.asyncProperty(trace, fc.constantFrom(0, 1, -1), async (steps, belowPriority) => {
        const h = await run(steps, { inflightEviction: { belowPriority, maxPerSecond: 1_000, burst: 1_000 } });
        calls += h.calls.length;
        for (const c of h.calls) {
          if (h.calls.length > 1 && h.tracked.some((t) => t.progress > 0)) withProgress++;
          expect(c.victim).toBe(c.expected);
          const victim = h.tracked[c.victim];
          // Never at or above the blocked band, never at or above the evictable bound.
          expect(victim?.priority).toBeLessThan(c.eviction.forPriority);
          expect(victim?.priority).toBeLessThan(belowPriority);
        }
        await h.close();
      }),
      { numRuns: RUNS },
    );
    // Counted over all runs, so the property cannot pass by never evicting.
    expect(calls).toBeGreaterThan(RUNS);
    expect(withProgress).toBeGreaterThan(10);
  });

  it('no request reaches two outcomes; a victim is asked once, never after it finished, never beyond the blocked demand', async () => {
    await fc.assert(
      fc.asyncProperty(trace, async (steps) => {
        const h = await run(steps, { inflightEviction: { maxPerSecond: 1_000, burst: 1_000 } });
        // Landing lets blocked work dispatch, which may evict again: land until nothing is on its way.
        for (let i = 0; i < 100 && h.tracked.some((t) => t.pendingLanding); i++) await h.step({ op: 'land' });
        for (const t of h.tracked) {
          expect(t.evictCalls).toBeLessThanOrEqual(1);
          expect(t.outcomes.length).toBeLessThanOrEqual(1);
          // An accepted eviction ends in exactly one release: the harness releases at most once, and the lease
          // no longer counts as evictable afterwards.
          if (t.evicted) expect(t.released).toBe(true);
          if (t.released) expect(t.lease?.evictable).toBe(false);
        }
        for (const c of h.calls) {
          expect(c.afterRelease).toBe(false);
          expect(c.outstandingBefore).toBeLessThanOrEqual(c.demand);
        }
        expect(h.fc.stats().evictionsOutstanding).toBe(0);
        await h.close();
        for (const t of h.tracked) expect(t.outcomes).toHaveLength(1);
        expect(h.clock.pendingTimers()).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('the rate limit holds over every window: at most burst + rate x window evictions', async () => {
    const burst = 2;
    const perSecond = 20;
    await fc.assert(
      fc.asyncProperty(trace, async (steps) => {
        const h = await run(steps, { inflightEviction: { maxPerSecond: perSecond, burst } });
        // Declined attempts give their token back: only evictions carried out count.
        const times = h.calls.filter((c) => h.tracked[c.victim]?.mode !== 'decline').map((c) => c.at);
        for (let i = 0; i < times.length; i++) {
          for (let j = i; j < times.length; j++) {
            const window = (times[j] as number) - (times[i] as number);
            expect(j - i + 1).toBeLessThanOrEqual(burst + (window / 1000) * perSecond + 1e-9);
          }
        }
        await h.close();
      }),
      { numRuns: RUNS },
    );
  });
});
