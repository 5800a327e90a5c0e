// A fixed-bucket Prometheus histogram: O(buckets) per observation, rendered as cumulative buckets at scrape.

export class Histogram {
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  /** `bounds` are the bucket upper bounds, ascending; +Inf is implicit. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    // Linear scan: about 20 buckets, and most samples land in the first few.
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= (this.bounds[i] ?? Number.POSITIVE_INFINITY)) {
        this.counts[i] = (this.counts[i] ?? 0) + 1;
        return;
      }
    }
  }

  /** Prometheus text lines for this histogram; `labels` is the rendered label list without braces. */
  render(name: string, labels: string, out: string[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i] ?? 0;
      out.push(`${name}_bucket{${labels},le="${formatValue(this.bounds[i] ?? 0)}"} ${formatValue(cumulative)}`);
    }
    out.push(`${name}_bucket{${labels},le="+Inf"} ${formatValue(this.count)}`);
    out.push(`${name}_count{${labels}} ${formatValue(this.count)}`);
    out.push(`${name}_sum{${labels}} ${formatValue(this.sum)}`);
  }
}

/** Numbers the way Python's prometheus_client writes them (vLLM's exporter): integers keep a ".0". */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return Number.isInteger(v) && Math.abs(v) < 1e16 ? `${v}.0` : String(v);
}
