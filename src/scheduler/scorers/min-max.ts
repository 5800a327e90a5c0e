// Min-max normalisation shared by the load scorers: the least loaded candidate scores 1, the most loaded 0.

/**
 * Writes `(max - v) / (max - min)` for each finite value, 1 for all when every value is equal (nothing to
 * prefer), and 0 for NaN (an endpoint with no metrics is the least preferred). O(n).
 */
export function minMaxLowerIsBetter(values: Float64Array, out: Float64Array): void {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) out[i] = 0;
    else out[i] = range > 0 ? (max - v) / range : 1;
  }
}

/** Scratch reused across calls (the scheduler is synchronous and single-threaded). */
let scratch = new Float64Array(256);

export function scratchValues(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  return scratch.subarray(0, n);
}
