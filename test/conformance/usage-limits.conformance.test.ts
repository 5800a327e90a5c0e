// Every registered usage-limit policy: one ceiling per band, in (0, 1] unless configured higher, never rising
// as priority falls (so a blocked band always blocks the bands below it: the head-of-line gate).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { usageLimitPolicies } from '../../src/flowcontrol/index.js';

describe.each(usageLimitPolicies.names())('usage-limit policy %s', (name) => {
  const policy = usageLimitPolicies.get(name)({});

  it('gives one ceiling per band, positive, and non-increasing from the top band down', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: -100, max: 100 }), { minLength: 1, maxLength: 12 }), (priorities) => {
        const bands = [...priorities].sort((a, b) => b - a).map((priority) => ({ priority, configuredCeiling: undefined }));
        const ceilings = policy.ceilings(bands);
        expect(ceilings.length).toBe(bands.length);
        for (let i = 0; i < ceilings.length; i++) {
          expect(ceilings[i]).toBeGreaterThan(0);
          expect(ceilings[i]).toBeLessThanOrEqual(1);
          if (i > 0) expect(ceilings[i]).toBeLessThanOrEqual(ceilings[i - 1]!);
        }
        expect(ceilings[0]).toBe(1);
      }),
    );
  });

  it('never raises a band above its configured ceiling', () => {
    const ceilings = policy.ceilings([
      { priority: 5, configuredCeiling: 0.7 },
      { priority: 0, configuredCeiling: 0.3 },
    ]);
    expect(ceilings[0]).toBeLessThanOrEqual(0.7);
    expect(ceilings[1]).toBeLessThanOrEqual(0.3);
  });
});

describe('priority-holdback', () => {
  it('steps each lower band down by the step, to the floor', () => {
    const policy = usageLimitPolicies.get('priority-holdback')({ step: 0.25, floor: 0.4 });
    const ceilings = policy.ceilings([3, 2, 1, 0].map((priority) => ({ priority, configuredCeiling: undefined })));
    expect(ceilings).toEqual([1, 0.75, 0.5, 0.4]);
  });

  it('refuses a floor outside (0, 1], naming the field', () => {
    expect(() => usageLimitPolicies.get('priority-holdback')({ floor: 0 })).toThrow(/usageLimit\.floor/);
  });
});
