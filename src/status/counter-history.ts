// Per-second samples of monotonic counters and of gauges, in a fixed ring: the history behind the status page's
// charts and its "last minute" totals. Events only bump plain counters; the history is built from one sample per
// second, so recording costs the request path nothing beyond an increment.

export interface Sample {
  /** Clock time (ms) of the sample. */
  readonly at: number;
  /** Cumulative counters by key at that time. */
  readonly counters: ReadonlyMap<string, number>;
  /** Gauge readings by name at that time. */
  readonly gauges: Readonly<Record<string, number>>;
}

/** O(1) to record; reads are O(samples x keys). Memory: `capacity` samples. */
export class CounterHistory {
  private readonly ring: (Sample | undefined)[];
  private next = 0;
  private count = 0;
  /** Samples were dropped from the ring: the oldest kept sample is not the first ever taken. */
  private wrapped = false;

  constructor(readonly capacity: number) {
    this.ring = new Array<Sample | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  record(sample: Sample): void {
    this.ring[this.next] = sample;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    else this.wrapped = true;
  }

  /** The i-th sample, oldest first (0 <= i < size). */
  at(i: number): Sample | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.ring[(this.next - this.count + i + this.capacity) % this.capacity];
  }

  latest(): Sample | undefined {
    return this.at(this.count - 1);
  }

  /** The newest sample taken at or before `time`; undefined when every kept sample is newer. O(samples). */
  atOrBefore(time: number): Sample | undefined {
    for (let i = this.count - 1; i >= 0; i--) {
      const s = this.at(i);
      if (s !== undefined && s.at <= time) return s;
    }
    return undefined;
  }

  /**
   * Where an increase "since `time`" starts: the newest sample at or before it; the oldest kept one if older
   * samples were dropped; undefined when counting started after `time` (then the increase is since zero).
   */
  baseline(time: number): Sample | undefined {
    return this.atOrBefore(time) ?? (this.wrapped ? this.at(0) : undefined);
  }

  /** Keys of every counter in the kept samples that starts with `prefix` and moved within them. */
  movedKeys(prefix: string): string[] {
    const first = this.at(0);
    const last = this.latest();
    if (first === undefined || last === undefined) return [];
    const keys: string[] = [];
    for (const [key, value] of last.counters) {
      if (key.startsWith(prefix) && value !== (first.counters.get(key) ?? 0)) keys.push(key);
    }
    return keys.sort();
  }

  /** Per-step increments of `key`, one per sample after the first (length size - 1). */
  deltas(key: string): number[] {
    const out: number[] = [];
    let prev = this.at(0)?.counters.get(key) ?? 0;
    for (let i = 1; i < this.count; i++) {
      const v = this.at(i)?.counters.get(key) ?? 0;
      out.push(Math.max(0, v - prev));
      prev = v;
    }
    return out;
  }

  /** Readings of gauge `name`, one per sample after the first (aligned with `deltas`). */
  gauge(name: string): number[] {
    const out: number[] = [];
    for (let i = 1; i < this.count; i++) out.push(this.at(i)?.gauges[name] ?? 0);
    return out;
  }

  /** Clock times of the samples after the first (aligned with `deltas`). */
  times(): number[] {
    const out: number[] = [];
    for (let i = 1; i < this.count; i++) out.push(this.at(i)?.at ?? 0);
    return out;
  }
}
