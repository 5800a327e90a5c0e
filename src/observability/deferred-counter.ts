// Counts into a prom-client Counter without its per-call work (it builds and hashes a key string from the label
// object and validates the label names on every inc): a request adds to a cached per-series total, found through one
// Map per label, and the totals reach the Counter when it is collected. prom-client collects a metric before every
// read (a scrape, getSingleMetric().get()), so every read shows exactly what direct inc calls would have.
import { type Counter } from 'prom-client';

interface Series<L extends string> {
  readonly labels: Partial<Record<L, string>>;
  pending: number;
}

/** Series cached at most; past it the cache is flushed and emptied (nothing is lost, the next incs re-create). */
export const DEFAULT_MAX_CACHED_SERIES = 10_000;

export class DeferredCounter<L extends string> {
  /** Nested by label value, in `labelNames` order; the leaves are Series. O(labels) per inc, no allocation once cached. */
  private readonly root = new Map<string, unknown>();
  private readonly series: Series<L>[] = [];

  constructor(
    private readonly counter: Counter<L>,
    private readonly labelNames: readonly L[],
    private readonly maxSeries = DEFAULT_MAX_CACHED_SERIES,
  ) {
    if (labelNames.length === 0) throw new RangeError('DeferredCounter needs at least one label');
  }

  /** Series cached now (for tests of the bound). */
  get cached(): number {
    return this.series.length;
  }

  /** `values` in `labelNames` order. A negative or non-finite `by` throws here, at the call, not at the next scrape. */
  inc(values: readonly string[], by = 1): void {
    if (!Number.isFinite(by)) throw new TypeError(`Value is not a valid number: ${by}`);
    if (by < 0) throw new Error('It is not possible to decrease a counter');
    this.find(values).pending += by;
  }

  /** Hands the pending totals to the Counter. Call from its `collect`. O(cached series). */
  flush(): void {
    for (const s of this.series) {
      if (s.pending === 0) continue;
      this.counter.inc(s.labels, s.pending);
      s.pending = 0;
    }
  }

  private find(values: readonly string[]): Series<L> {
    const last = this.labelNames.length - 1;
    let level = this.root;
    for (let i = 0; i < last; i++) {
      const value = values[i] ?? '';
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map<string, unknown>();
        level.set(value, next);
      }
      level = next;
    }
    const leafValue = values[last] ?? '';
    const found = level.get(leafValue) as Series<L> | undefined;
    if (found !== undefined) return found;
    if (this.series.length >= this.maxSeries) {
      this.flush();
      this.root.clear();
      this.series.length = 0;
      return this.find(values);
    }
    const labels: Partial<Record<L, string>> = {};
    this.labelNames.forEach((name, i) => {
      labels[name] = values[i] ?? '';
    });
    const created: Series<L> = { labels, pending: 0 };
    level.set(leafValue, created);
    this.series.push(created);
    return created;
  }
}
