// Pool aggregation: how per-endpoint saturation scores become the one number flow control gates on.

/**
 * - `headroom` (default): mean over endpoints of min(score, 1), i.e. the fraction of the pool's capacity in
 *   use; once no endpoint is below 1.0 it reports the least-loaded endpoint's score (>= 1.0) so overload stays
 *   visible. The pool reads saturated exactly when no endpoint has headroom.
 * - `mean`: the Go reference's plain mean of raw scores (kept for compatibility tests and migration).
 *   One pod at 3.0 and one idle pod give 1.6 and block the whole pool.
 * - `min`: the least-loaded endpoint's score; gates like `headroom` but has no gradient for priority
 *   holdback (a band ceiling of 0.8 would mean "the emptiest pod is 80% full", not "the pool is").
 */
export type Aggregation = 'headroom' | 'mean' | 'min';

export const AGGREGATIONS: readonly Aggregation[] = ['headroom', 'mean', 'min'];

/** @default 'headroom' */
export const DEFAULT_AGGREGATION: Aggregation = 'headroom';

/**
 * Why `headroom` and not the Go mean: the gate asks "can the pool take one more request?", and the answer is
 * yes whenever some endpoint can, provided the scheduler routes to endpoints with headroom (the
 * EndpointSaturationView filter). A mean lets one overloaded pod (queue 15 -> 3.0) cancel the room of
 * others and stall every tenant, which is the defect reference.md section 3 lists. Clamping each endpoint at
 * 1.0 before averaging keeps the mean's gradient (useful for band ceilings below 1.0) while an overloaded
 * pod can no longer count for more than "full". Monotone: raising any score never lowers the result.
 * Empty pool: 1.0 (nothing can take work). O(n), in index order (so equal inputs always give the same sum).
 */
export function aggregate(scores: ArrayLike<number>, mode: Aggregation): number {
  const n = scores.length;
  if (n === 0) return 1;
  switch (mode) {
    case 'mean': {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += scores[i] ?? 0;
      return sum / n;
    }
    case 'min': {
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) min = Math.min(min, scores[i] ?? Number.POSITIVE_INFINITY);
      return min;
    }
    case 'headroom': {
      let clamped = 0;
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const s = scores[i] ?? 1;
        clamped += Math.min(s, 1);
        min = Math.min(min, s);
      }
      return min < 1 ? clamped / n : min;
    }
  }
}
