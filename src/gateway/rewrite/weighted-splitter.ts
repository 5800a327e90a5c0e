// Deterministic weighted split (smooth weighted round-robin): over every run of sum(weights) consecutive picks,
// each target is picked exactly its weight, and picks of one target are spread out rather than bunched.

/**
 * Each pick adds every target's weight to its credit, takes the target with the most credit (the first on a
 * tie) and charges it the total weight. The credits return to zero after each sum(weights) picks, so the sequence
 * is periodic with that period and every window of that length holds each target exactly its weight.
 * O(targets) per pick and O(targets) memory; the weights are positive integers (checked by the caller's schema).
 */
export class WeightedSplitter<T> {
  private readonly credit: Float64Array;
  private readonly total: number;

  constructor(
    private readonly targets: readonly T[],
    private readonly weights: readonly number[],
  ) {
    if (targets.length === 0 || targets.length !== weights.length) {
      throw new RangeError(`WeightedSplitter needs one weight per target and at least one target (${targets.length}/${weights.length})`);
    }
    for (const w of weights) {
      if (!Number.isSafeInteger(w) || w <= 0) throw new RangeError(`WeightedSplitter weights must be positive integers, got ${w}`);
    }
    this.credit = new Float64Array(targets.length);
    this.total = weights.reduce((a, b) => a + b, 0);
  }

  next(): T {
    let best = 0;
    const credit = this.credit;
    for (let i = 0; i < credit.length; i++) {
      credit[i] = (credit[i] as number) + (this.weights[i] as number);
      if ((credit[i] as number) > (credit[best] as number)) best = i;
    }
    credit[best] = (credit[best] as number) - this.total;
    return this.targets[best] as T;
  }
}
