// A queued request: the request plus every index it sits in, kept inside the item so each removal is O(1)/O(log n).
import { type ListLink, newLink } from '../core/index.js';
import type { Flow } from './flow.js';
import { type EnqueueOptions, type FlowRequest, type Outcome } from './types.js';

export class QueueItem {
  /** Position in its flow's queue (list link for FIFO, heap index for deadline orders). */
  readonly flowLink: ListLink<QueueItem> = newLink();
  flowHeapIndex = -1;
  /** Position in its band's arrival-order list (for displacement of the newest and global-strict order). */
  readonly bandLink: ListLink<QueueItem> = newLink();
  /** Position in the controller's expiry heap. */
  expiryHeapIndex = -1;
  /** Set once the outcome is decided, so every late path (timer, abort, close) is a no-op. */
  settled = false;
  abortListener: (() => void) | undefined;

  constructor(
    readonly request: FlowRequest,
    /** Arrival sequence number: the FCFS key and the deterministic tie-break everywhere. */
    readonly seq: number,
    readonly enqueuedAt: number,
    /** Clock time after which the item must not be dispatched (arrival + effective TTL, or the deadline). */
    readonly expiresAt: number,
    /** Key of the deadline-ordered policies (`edf`: expiresAt; `slo-deadline`: arrival + TTFT SLO). */
    readonly sloDeadline: number,
    readonly flow: Flow,
    readonly options: EnqueueOptions,
    readonly resolve: (outcome: Outcome) => void,
  ) {}
}
