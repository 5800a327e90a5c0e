// Requests not yet routed, counted by stage, priority and target model: what an autoscaler scales on. The
// waiting room (no endpoints at all) is invisible to flow control's band gauges, so both stages are counted here.

export type PendingStage = 'waiting-for-endpoints' | 'queued';

export interface PendingCount {
  readonly stage: PendingStage;
  readonly priority: number;
  readonly targetModel: string;
  readonly requests: number;
}

interface Entry {
  readonly stage: PendingStage;
  readonly priority: number;
  readonly targetModel: string;
  requests: number;
}

/** add/remove: O(1) (one map lookup); snapshot: O(distinct stage x priority x model). Entries at 0 are dropped. */
export class PendingRequests {
  private readonly entries = new Map<string, Entry>();

  /** Counts one request in; returns the function that counts it out (idempotent). */
  add(stage: PendingStage, priority: number, targetModel: string): () => void {
    const key = `${stage}\u0000${priority}\u0000${targetModel}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { stage, priority, targetModel, requests: 0 };
      this.entries.set(key, entry);
    }
    entry.requests++;
    const counted = entry;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      counted.requests--;
      if (counted.requests === 0 && this.entries.get(key) === counted) this.entries.delete(key);
    };
  }

  snapshot(): PendingCount[] {
    return [...this.entries.values()].map((e) => ({ stage: e.stage, priority: e.priority, targetModel: e.targetModel, requests: e.requests }));
  }
}
