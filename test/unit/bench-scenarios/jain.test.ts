import { describe, expect, it } from 'vitest';
import { maxMinJain, maxMinShares, weightedJain } from '../../../bench/scenarios/jain.js';

describe("Jain's index helpers", () => {
  it('weighted: 1 when service is proportional to weights, 1/n when one tenant has everything', () => {
    expect(weightedJain([300, 100], [3, 1])).toBeCloseTo(1, 12);
    expect(weightedJain([100, 100], [1, 1])).toBeCloseTo(1, 12);
    expect(weightedJain([100, 0], [1, 1])).toBeCloseTo(0.5, 12);
    expect(weightedJain([100, 100], [3, 1])).toBeCloseTo(0.8, 12);
    expect(() => weightedJain([1], [1, 1])).toThrow();
  });

  it('max-min shares: under-demanding tenants get their demand, the rest is split by weight', () => {
    expect(maxMinShares([10, 1000], [1, 1], 100)).toEqual([10, 90]);
    expect(maxMinShares([1000, 1000], [3, 1], 100)).toEqual([75, 25]);
    expect(maxMinShares([10, 20], [1, 1], 100)).toEqual([10, 20]);
  });

  it('max-min Jain: 1 when a light tenant gets all it asked for, lower when it is starved', () => {
    expect(maxMinJain([10, 90], [10, 1000], [1, 1])).toBeCloseTo(1, 12);
    expect(maxMinJain([5, 95], [10, 1000], [1, 1])).toBeLessThan(0.9);
  });
});
