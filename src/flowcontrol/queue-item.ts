// A queued request: the request plus every index it sits in, kept inside the item so each removal is O(1)/O(log n).
import { type IntrusiveList, type ListLink, newLink } from '../core/index.js';
import type { ExpiryLane } from './expiry-tracker.js';
import type { Flow } from './flow.js';
import { type LeaseAccount, type LeaseReleaser } from './lease.js';
import { type ActualCost, type EnqueueOptions, type FlowRequest, type Lease, type Outcome } from './types.js';

/**
 * The item is its own link in its flow's FIFO queue (`prev`, `next`, `owner`), saving an allocation per request
 * on the hottest list; the band and expiry lists use link objects.
 */
export class QueueItem implements ListLink<QueueItem>, Lease, LeaseAccount {
  prev: QueueItem | undefined = undefined;
  next: QueueItem | undefined = undefined;
  owner: IntrusiveList<QueueItem> | undefined = undefined;
  /** Position in its flow's queue when that queue is a heap (deadline orders). */
  flowHeapIndex = -1;
  /** Position in its band's arrival-order list (for displacement of the newest and global-strict order). */
  readonly bandLink: ListLink<QueueItem> = newLink();
  /** Position in the expiry tracker: a FIFO lane of items with the same TTL, or else its general heap. */
  readonly expiryLink: ListLink<QueueItem> = newLink();
  expiryLane: ExpiryLane | undefined;
  expiryHeapIndex = -1;
  /** Set once the outcome is decided, so every late path (timer, abort, close) is a no-op. */
  settled = false;
  abortListener: (() => void) | undefined;
  /** Once dispatched the item is also the request's lease: no second object per request on the hot path. */
  dispatchedAt = 0;
  private releaser: LeaseReleaser | undefined;

  constructor(
    readonly request: FlowRequest,
    /** Arrival sequence number: the FCFS key and the deterministic tie-break everywhere. */
    readonly seq: number,
    readonly enqueuedAt: number,
    /** Clock time after which the item must not be dispatched (arrival + effective TTL, or the deadline). */
    readonly expiresAt: number,
    /** The effective TTL that produced `expiresAt` (the expiry lane). */
    readonly ttl: number,
    /** Key of the deadline-ordered policies (`edf`: expiresAt; `slo-deadline`: arrival + TTFT SLO). */
    readonly sloDeadline: number,
    readonly flow: Flow,
    readonly options: EnqueueOptions,
    readonly resolve: (outcome: Outcome) => void,
  ) {}

  get priority(): number {
    return this.flow.priority;
  }

  get fairnessId(): string {
    return this.flow.fairnessId;
  }

  get estimatedCost(): number {
    return this.request.estimatedCost;
  }

  /** Turns the item into the lease of its dispatch. */
  lease(now: number, releaser: LeaseReleaser): this {
    this.dispatchedAt = now;
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
