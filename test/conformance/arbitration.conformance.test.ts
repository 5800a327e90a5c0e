// Every registered band-arbitration policy: picks only a non-empty band whose gate is open, never one below a
// blocked band (head-of-line gate), and something whenever the top non-empty band is open.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ArbitratedBand, arbitrationPolicies } from '../../src/flowcontrol/index.js';

function band(priority: number, queued: number, ceiling: number, oldest: number | undefined, weight = 1): ArbitratedBand {
  return { priority, readyRequests: queued, ceiling, settings: { weight }, oldestEnqueuedAt: () => oldest, pass: 0 };
}

describe.each(arbitrationPolicies.names())('arbitration policy %s', (name) => {
  it('picks an open non-empty band, never one below a blocked band, and none only when the top band is blocked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ queued: fc.integer({ min: 0, max: 3 }), ceiling: fc.double({ min: 0.1, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 6 }),
        fc.double({ min: 0, max: 1.5, noNaN: true }),
        fc.integer({ min: 0, max: 20_000 }),
        (specs, saturation, now) => {
          const policy = arbitrationPolicies.get(name)({});
          // Ceilings must not rise as priority falls (the usage-limit conformance guarantees it).
          let cap = 1;
          const bands = specs.map((s, i) => {
            cap = Math.min(cap, s.ceiling);
            return band(100 - i, s.queued, cap, s.queued > 0 ? i * 1_000 : undefined);
          });
          const picked = policy.pick(bands, saturation, now);
          const top = bands.find((b) => b.readyRequests > 0);
          if (top === undefined || saturation >= top.ceiling) {
            expect(picked).toBeUndefined();
            return;
          }
          expect(picked).toBeDefined();
          expect(picked!.readyRequests).toBeGreaterThan(0);
          expect(saturation).toBeLessThan(picked!.ceiling);
          const blockedAbove = bands.find((b) => b.readyRequests > 0 && saturation >= b.ceiling);
          if (blockedAbove !== undefined) expect(picked!.priority).toBeGreaterThan(blockedAbove.priority);
        },
      ),
    );
  });
});

describe('weighted arbitration', () => {
  it('shares dispatches by weight under contention and is strict below the threshold', () => {
    const policy = arbitrationPolicies.get('weighted')({ activationThreshold: 0.5, maxWaitMs: 1e9 });
    const high = band(10, 1_000, 1, 0, 3);
    const low = band(0, 1_000, 1, 0, 1);
    const counts = new Map<number, number>([[10, 0], [0, 0]]);
    for (let i = 0; i < 400; i++) {
      const b = policy.pick([high, low], 0.9, 0)!;
      counts.set(b.priority, counts.get(b.priority)! + 1);
      policy.dispatched(b);
    }
    expect(counts.get(10)).toBe(300);
    expect(counts.get(0)).toBe(100);
    expect(policy.pick([high, low], 0.2, 0)).toBe(high);
  });

  it('serves a band whose oldest request waited past the bound, even against a heavier band', () => {
    const policy = arbitrationPolicies.get('weighted')({ activationThreshold: 0, maxWaitMs: 1_000 });
    const high = band(10, 5, 1, 900, 1_000);
    const low = band(0, 5, 1, 0, 1);
    low.pass = 50;
    expect(policy.pick([high, low], 0.5, 1_000)).toBe(low);
  });
});
