// Band arbitration: which band dispatches next, given the pool's saturation and each band's ceiling.
import { PASS_THROUGH_CEILING } from '../../band.js';

/** What an arbiter sees of a band. */
export interface ArbitratedBand {
  readonly priority: number;
  /** Queued requests that may be dispatched now (not held by their tenant's concurrency cap). */
  readonly readyRequests: number;
  readonly ceiling: number;
  readonly settings: { readonly weight: number };
  /** Enqueue time of the band's oldest queued request, if any. */
  oldestEnqueuedAt(): number | undefined;
  pass: number;
}

export interface ArbitrationPolicy {
  readonly name: string;
  /**
   * Picks the band to dispatch from, or undefined when none may dispatch now. `bands` is every live band,
   * highest priority first. Head-of-line gate: the first non-empty band whose ceiling is reached stops every
   * band below it too, except pass-through bands (ceiling PASS_THROUGH_CEILING), which nothing holds.
   * O(bands) per call; bands are few and bounded.
   */
  pick<B extends ArbitratedBand>(bands: readonly B[], saturation: number, now: number): B | undefined;
  /** Told after each dispatch from `band` (stride accounting). */
  dispatched(band: ArbitratedBand): void;
}

/**
 * Non-empty bands from the top down to, not including, the first whose ceiling the saturation has reached; then
 * only the pass-through bands below it.
 */
export function* eligibleBands<B extends ArbitratedBand>(bands: readonly B[], saturation: number): Generator<B> {
  let blocked = false;
  for (const band of bands) {
    if (band.readyRequests === 0) continue;
    if (band.ceiling === PASS_THROUGH_CEILING) yield band;
    else if (!blocked && saturation < band.ceiling) yield band;
    else blocked = true;
  }
}
