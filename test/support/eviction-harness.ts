// Drives a FlowController with in-flight eviction through a trace in virtual time: every request carries an
// eviction target that records what flow control asked of it, and a model of the victim rule checks each choice.
import { ManualClock } from '../../src/core/index.js';
import {
  type EvictionTarget,
  FlowController,
  type FlowControllerOptions,
  type InflightEviction,
  type InflightEvictionEvent,
  type Lease,
  type Outcome,
} from '../../src/flowcontrol/index.js';
import { flushMicrotasks } from './flush.js';
import { ConcurrencyLimitSaturation } from './settable-saturation.js';

/** How a target answers when chosen: carry it out now (release at once), later (on a `land` step), or decline. */
export type TargetMode = 'sync' | 'later' | 'decline';

export type EvictionStep =
  | { op: 'arrive'; priority: number; tenant: number; cost: number; mode: TargetMode }
  | { op: 'finish'; pick: number }
  | { op: 'progress'; pick: number; tokens: number }
  | { op: 'land' }
  | { op: 'advance'; ms: number }
  | { op: 'limit'; limit: number };

export interface Tracked {
  readonly index: number;
  readonly priority: number;
  readonly cost: number;
  readonly mode: TargetMode;
  outcomes: Outcome[];
  lease: Lease | undefined;
  dispatchedAt: number | undefined;
  /** Dispatch order among all dispatches. */
  dispatchSeq: number | undefined;
  progress: number;
  /** Lease released (finished or evicted). */
  released: boolean;
  /** How many times flow control called the target. */
  evictCalls: number;
  evicted: boolean;
  /** Accepted and not yet landed (mode `later`). */
  pendingLanding: boolean;
}

export interface EvictionCall {
  readonly victim: number;
  readonly at: number;
  readonly eviction: InflightEviction;
  /** The victim the rule (modelled here, independently of the index) says should have been chosen. */
  readonly expected: number | undefined;
  /** Queued requests of the band the eviction was for, and evictions accepted but not landed, at the call. */
  readonly demand: number;
  readonly outstandingBefore: number;
  /** The victim's lease had already been released when the target was called. */
  readonly afterRelease: boolean;
}

export const BELOW_PRIORITY_DEFAULT = 0;

export class EvictionHarness {
  readonly clock = new ManualClock(0);
  readonly saturation: ConcurrencyLimitSaturation;
  readonly fc: FlowController;
  readonly tracked: Tracked[] = [];
  readonly calls: EvictionCall[] = [];
  readonly events: InflightEvictionEvent[] = [];
  private dispatchSeq = 0;
  private readonly belowPriority: number;

  constructor(options: Partial<FlowControllerOptions> = {}, initialLimit = 4) {
    this.saturation = new ConcurrencyLimitSaturation(initialLimit);
    this.belowPriority = options.inflightEviction?.belowPriority ?? BELOW_PRIORITY_DEFAULT;
    this.fc = new FlowController({
      clock: this.clock,
      saturation: this.saturation,
      fallbackIntervalMs: 5,
      observer: {
        onOutcome: () => {},
        onDispatchCycle: () => {},
        onRelease: () => {},
        onInflightEviction: (e) => this.events.push(e),
      },
      ...options,
    });
  }

  async step(s: EvictionStep): Promise<void> {
    switch (s.op) {
      case 'arrive':
        this.arrive(s.priority, s.tenant, s.cost, s.mode);
        break;
      case 'finish': {
        const live = this.tracked.filter((t) => t.lease !== undefined && !t.released && !t.evicted);
        const t = live[s.pick % Math.max(1, live.length)];
        if (t !== undefined) this.release(t);
        break;
      }
      case 'progress': {
        const live = this.tracked.filter((t) => t.lease !== undefined && !t.released);
        const t = live[s.pick % Math.max(1, live.length)];
        if (t?.lease !== undefined) {
          t.progress = Math.max(t.progress, s.tokens);
          t.lease.reportProgress(s.tokens);
        }
        break;
      }
      case 'land':
        for (const t of this.tracked) if (t.pendingLanding) this.release(t);
        break;
      case 'advance':
        this.clock.advance(s.ms);
        break;
      case 'limit':
        this.saturation.setLimit(s.limit);
        break;
    }
    await flushMicrotasks(3);
  }

  arrive(priority: number, tenant: number, cost: number, mode: TargetMode): Tracked {
    const t: Tracked = {
      index: this.tracked.length,
      priority,
      cost,
      mode,
      outcomes: [],
      lease: undefined,
      dispatchedAt: undefined,
      dispatchSeq: undefined,
      progress: 0,
      released: false,
      evictCalls: 0,
      evicted: false,
      pendingLanding: false,
    };
    this.tracked.push(t);
    const target: EvictionTarget = { evict: (e) => this.onEvict(t, e) };
    void this.fc
      .enqueueAndWait(
        { id: `r${t.index}`, fairnessId: `t${tenant}`, priority, byteSize: 10, estimatedCost: cost },
        {
          evictionTarget: target,
          onDispatch: (lease) => {
            t.lease = lease;
            t.dispatchedAt = this.clock.now();
            t.dispatchSeq = this.dispatchSeq++;
            this.saturation.begin();
          },
        },
      )
      .then((o) => t.outcomes.push(o));
    return t;
  }

  /** The victim the rule picks among the modelled evictable requests below `limit` (lowest priority first, ...). */
  expectedVictim(limit: number): Tracked | undefined {
    let best: Tracked | undefined;
    for (const t of this.tracked) {
      if (!this.isEvictable(t) || t.priority >= limit) continue;
      if (best === undefined || ruleBefore(t, best)) best = t;
    }
    return best;
  }

  isEvictable(t: Tracked): boolean {
    return t.lease !== undefined && !t.released && t.evictCalls === 0 && t.priority < this.belowPriority;
  }

  async close(): Promise<void> {
    await this.fc.close();
    await flushMicrotasks(3);
  }

  private onEvict(t: Tracked, e: InflightEviction): boolean {
    const band = this.fc.stats().bands.find((b) => b.priority === e.forPriority);
    // Computed before this call is recorded, so the victim itself still counts as evictable in the model.
    const expected = this.expectedVictim(Math.min(e.forPriority, this.belowPriority));
    this.calls.push({
      victim: t.index,
      at: this.clock.now(),
      eviction: e,
      expected: expected?.index,
      demand: band?.queuedRequests ?? 0,
      outstandingBefore: this.fc.stats().evictionsOutstanding,
      afterRelease: t.released,
    });
    t.evictCalls++;
    if (t.mode === 'decline') return false;
    t.evicted = true;
    if (t.mode === 'sync') this.release(t);
    else t.pendingLanding = true;
    return true;
  }

  private release(t: Tracked): void {
    if (t.released || t.lease === undefined) return;
    t.released = true;
    t.pendingLanding = false;
    t.lease.release();
    this.saturation.end();
  }
}

/** The documented rule, written out again here: priority, progress, remaining tokens, dispatch time, order. */
function ruleBefore(a: Tracked, b: Tracked): boolean {
  if (a.priority !== b.priority) return a.priority < b.priority;
  if (a.progress !== b.progress) return a.progress < b.progress;
  const ra = Math.max(0, a.cost - a.progress);
  const rb = Math.max(0, b.cost - b.progress);
  if (ra !== rb) return ra > rb;
  if (a.dispatchedAt !== b.dispatchedAt) return (a.dispatchedAt ?? 0) > (b.dispatchedAt ?? 0);
  return (a.dispatchSeq ?? 0) > (b.dispatchSeq ?? 0);
}
