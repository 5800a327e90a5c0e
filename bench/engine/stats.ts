// Statistics for the engine benchmark: medians over repetitions and percentiles over latency samples.

/** Median of a list (upper median for even lengths); NaN when empty. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Nearest-rank percentile of the first `count` samples (sorted in place); NaN when empty. */
export function percentileOf(samples: Float64Array, count: number, p: number): number {
  if (count === 0) return Number.NaN;
  const sorted = samples.subarray(0, count).sort();
  const rank = Math.min(count - 1, Math.max(0, Math.ceil((p / 100) * count) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Runs the collector if Node was started with --expose-gc; a no-op otherwise. */
export function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
}

export const gcAvailable = (): boolean => typeof (globalThis as { gc?: unknown }).gc === 'function';
