// A queued request: the request plus every index it sits in, kept inside the item so each removal is O(1)/O(log n).
import type { ExpiryLane } from './expiry-tracker.js';
import type { Band } from './band.js';
import type { Flow } from './flow.js';
import type { EvictionEntry } from './inflight-eviction.js';
import { type LeaseAccount, type LeaseReleaser } from './lease.js';
import { type ActualCost, type EnqueueOptions, type FlowRequest, type Lease, type OutcomeCallback } from './types.js';

/**
 * The item carries its own links (in its flow's FIFO queue, its band's arrival list and its expiry lane; see
 * item-lists.ts), so queueing a request allocates this one object. Fields cost 8 bytes each, and a field holding a
 * fractional number another boxed number, so only what cannot be derived is stored.
 */
export class QueueItem implements Lease, LeaseAccount {
  /** Neighbours in its flow's FIFO queue (`fcfs`). */
  flowPrev: QueueItem | undefined = undefined;
  flowNext: QueueItem | undefined = undefined;
  /** Position in its flow's queue when that queue is a heap (deadline orders). */
  flowHeapIndex = -1;
  /** Neighbours in its band's arrival-order list (displacement takes the newest; close walks it). */
  bandPrev: QueueItem | undefined = undefined;
  bandNext: QueueItem | undefined = undefined;
  /** Position in the expiry tracker: neighbours in a FIFO lane of items with the same TTL, or else its heap. */
  lanePrev: QueueItem | undefined = undefined;
  laneNext: QueueItem | undefined = undefined;
  expiryLane: ExpiryLane | undefined = undefined;
  expiryHeapIndex = -1;
  /** Set once the outcome is decided, so every late path (timer, abort, close) is a no-op. */
  settled = false;
  abortListener: (() => void) | undefined;
  /**
   * Once dispatched the item is also the request's lease: no second object per request on the hot path. The time
   * starts undefined, so V8 gives the field no number box of its own while the item waits in the queue.
   */
  private dispatchTime: number | undefined = undefined;
  private releaser: LeaseReleaser | undefined;
  /** Its place in the in-flight eviction index while dispatched and evictable (see inflight-eviction.ts). */
  evictionEntry: EvictionEntry | undefined = undefined;
  pacePrefill = false;
  /** Copied from the request so queue upkeep and dispatch never read the (by then cold) request object. */
  readonly byteSize: number;
  readonly estimatedCost: number;

  constructor(
    readonly request: FlowRequest,
    /** Arrival sequence number: the FCFS key and the deterministic tie-break everywhere. */
    readonly seq: number,
    readonly enqueuedAt: number,
    /** Clock time after which the item must not be dispatched (arrival + effective TTL, or the deadline). */
    readonly expiresAt: number,
    readonly flow: Flow,
    readonly options: EnqueueOptions,
    /** Receives the outcome, exactly once. */
    readonly onOutcome: OutcomeCallback,
  ) {
    this.byteSize = request.byteSize;
    this.estimatedCost = request.estimatedCost;
  }

  /** Key of the `slo-deadline` order: arrival + TTFT SLO, or the expiry when the request states no SLO. */
  get sloDeadline(): number {
    const slo = this.request.ttftSloMs;
    return slo === undefined ? this.expiresAt : (this.request.arrivedAt ?? this.enqueuedAt) + slo;
  }

  get band(): Band {
    return this.flow.band;
  }

  get dispatchedAt(): number {
    return this.dispatchTime ?? Number.NaN;
  }

  get priority(): number {
    return this.flow.priority;
  }

  get fairnessId(): string {
    return this.flow.fairnessId;
  }

  get evictable(): boolean {
    return this.evictionEntry?.indexed === true;
  }

  reportProgress(outputTokens: number): void {
    const entry = this.evictionEntry;
    if (entry !== undefined) entry.owner.progress(entry, outputTokens);
  }

  /** Turns the item into the lease of its dispatch. */
  lease(now: number, releaser: LeaseReleaser): this {
    this.dispatchTime = now;
    this.releaser = releaser;
    return this;
  }

  release(actual?: ActualCost): void {
    const releaser = this.releaser;
    if (releaser === undefined) return;
    this.releaser = undefined;
    releaser(this, actual);
  }
}
