// Small statistics helpers for reports, benchmarks and the demo (not on the request hot path).

/** Nearest-rank percentile of an ascending-sorted array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Collects samples and reports count, mean and percentiles. */
export class Summary {
  private readonly samples: number[] = [];
  private sorted = true;

  add(value: number): void {
    this.samples.push(value);
    this.sorted = false;
  }

  get count(): number {
    return this.samples.length;
  }

  mean(): number {
    if (this.samples.length === 0) return Number.NaN;
    let sum = 0;
    for (const s of this.samples) sum += s;
    return sum / this.samples.length;
  }

  percentile(p: number): number {
    if (!this.sorted) {
      this.samples.sort((a, b) => a - b);
      this.sorted = true;
    }
    return percentile(this.samples, p);
  }
}
