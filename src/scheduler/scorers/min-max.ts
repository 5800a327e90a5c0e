// Min-max normalisation shared by the load scorers: the least loaded candidate scores 1, the most loaded 0.
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';

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

/** A scorer that prefers the candidate with the least of one load figure; subclasses say which figure. */
export abstract class LowerLoadIsBetterScorer implements Scorer {
  abstract readonly type: string;

  /** The candidate's load; NaN when unknown (scored 0). */
  protected abstract load(ctx: SchedulingContext, candidate: EndpointSnapshot): number;

  score(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    const values = scratchValues(candidates.length);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      values[i] = c === undefined ? Number.NaN : this.load(ctx, c);
    }
    minMaxLowerIsBetter(values, out);
  }
}
