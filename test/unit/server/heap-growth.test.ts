// The CLI raises V8's heap growth after a major GC (chained major GCs with long bodies), unless the operator set it.
import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, heapGrowthFlag } from '../../../src/server/index.js';

describe('heapGrowthFlag', () => {
  it('sets --heap-growing-percent when neither node argv nor NODE_OPTIONS names it', () => {
    expect(heapGrowthFlag([], undefined)).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    expect(heapGrowthFlag(['--enable-source-maps'], '--max-old-space-size=512')).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  });

  it("leaves the operator's own setting alone, in argv or NODE_OPTIONS, with dashes or underscores", () => {
    expect(heapGrowthFlag(['--heap-growing-percent=50'], undefined)).toBeUndefined();
    expect(heapGrowthFlag([], '--max-old-space-size=512 --heap-growing-percent=100')).toBeUndefined();
    expect(heapGrowthFlag(['--heap_growing_percent=20'], undefined)).toBeUndefined();
  });
});
