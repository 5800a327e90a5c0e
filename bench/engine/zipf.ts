// Seeded Zipf sampler: picks tenant ranks with a heavy head and a long tail, reproducibly (same seed, same ranks).
import { type Random } from '../../src/core/index.js';

/**
 * Rank k in [0, n) with probability proportional to 1 / (k + 1)^exponent. The CDF is built once (O(n) memory);
 * each sample is a binary search over it (O(log n)).
 */
export class ZipfSampler {
  private readonly cdf: Float64Array;

  constructor(
    readonly n: number,
    readonly exponent: number,
    private readonly random: Random,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`ZipfSampler: n must be an integer >= 1, got ${n}`);
    if (!(exponent >= 0)) throw new RangeError(`ZipfSampler: exponent must be >= 0, got ${exponent}`);
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) {
      sum += 1 / (k + 1) ** exponent;
      this.cdf[k] = sum;
    }
    for (let k = 0; k < n; k++) this.cdf[k] = (this.cdf[k] ?? 0) / sum;
  }

  /** The next rank, 0 being the most popular. */
  next(): number {
    const u = this.random.next();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cdf[mid] ?? 1) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
