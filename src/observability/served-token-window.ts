// Sliding window of served tokens per tenant, kept as a ring of per-second buckets on an injected Clock: the input
// of the fairness index and of the tenant-label rebalancing. Recording is O(1); reading is O(buckets x tenants).
import { type Clock } from '../core/index.js';

interface Bucket {
  /** Whole clock second this bucket holds; -Infinity while unused. */
  second: number;
  readonly tokens: Map<string, number>;
}

/**
 * The window is the current clock second plus the `seconds - 1` before it, so it spans between `seconds - 1` and
 * `seconds` seconds of history. Memory is O(distinct tenants seen in the window).
 */
export class ServedTokenWindow {
  private readonly buckets: Bucket[];

  constructor(
    private readonly seconds: number,
    private readonly clock: Clock,
  ) {
    this.buckets = Array.from({ length: seconds }, () => ({ second: Number.NEGATIVE_INFINITY, tokens: new Map<string, number>() }));
  }

  /** Adds `tokens` (>= 0) for a tenant now. Adding 0 marks the tenant active without service (starved). */
  add(fairnessId: string, tokens: number): void {
    const bucket = this.bucketFor(Math.floor(this.clock.now() / 1000));
    bucket.tokens.set(fairnessId, (bucket.tokens.get(fairnessId) ?? 0) + tokens);
  }

  /** Tokens per tenant active in the window (tenants marked active with no service map to 0). */
  totals(): Map<string, number> {
    const now = Math.floor(this.clock.now() / 1000);
    const totals = new Map<string, number>();
    for (const b of this.buckets) {
      if (b.second <= now - this.seconds || b.second > now) continue;
      for (const [id, t] of b.tokens) totals.set(id, (totals.get(id) ?? 0) + t);
    }
    return totals;
  }

  private bucketFor(second: number): Bucket {
    const n = this.seconds;
    const bucket = this.buckets[((second % n) + n) % n];
    if (bucket === undefined) throw new Error('unreachable: bucket index out of range');
    if (bucket.second !== second) {
      // The slot last held a second that has left the window: reuse it.
      bucket.tokens.clear();
      bucket.second = second;
    }
    return bucket;
  }
}
