// The consumer loop: work dispatched now finishes shortly after, in a batch: on the next event-loop turn (a
// setImmediate batch; what holds a concurrency limit) or on a later microtask (free flow, so leases do not pile
// up across one long macrotask). Stands in for a response that ends shortly after it starts; used by the engine
// and p-queue alike.

export type ReleaseTiming = 'next-turn' | 'microtask';

export class BatchReleaser {
  private pending: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly timing: ReleaseTiming = 'next-turn') {}

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (const done of batch) done();
  };

  /** Calls `done` in the next batch, together with everything else held until then. */
  later(done: () => void): void {
    this.pending.push(done);
    if (!this.scheduled) {
      this.scheduled = true;
      if (this.timing === 'next-turn') setImmediate(this.flush);
      else queueMicrotask(this.flush);
    }
  }

  /** A promise that resolves in the next batch: a p-queue task that completes shortly after it starts. */
  hold(): Promise<void> {
    return new Promise<void>((resolve) => this.later(resolve));
  }
}
