// A flow: the queue of one tenant (fairness id) within one priority band, plus the fairness bookkeeping for it.
import { type IntrusiveList, type ListLink, newLink } from '../core/index.js';
import type { Band } from './band.js';
import { type FlowQueue } from './queue/flow-queue.js';

export class Flow implements ListLink<Flow> {
  /** Fairness policies keep their per-flow numbers here for O(1) access instead of in side maps. */
  /** Weighted service received (tokens / weight): the virtual counter of `weighted-fair`. */
  virtualService = 0;
  /** Position in the band's fairness heap (`weighted-fair`, `global-strict`). */
  fairHeapIndex = -1;
  /** The flow is its own link in its band's round-robin ring. */
  prev: Flow | undefined = undefined;
  next: Flow | undefined = undefined;
  owner: IntrusiveList<Flow> | undefined = undefined;
  /** Position in its band's queue-length buckets (fair-share overflow). */
  readonly lengthLink: ListLink<Flow> = newLink();
  /** Position in the controller's idle-flow LRU list. */
  readonly idleLink: ListLink<Flow> = newLink();
  idleSince = 0;
  /** Dispatched requests of this flow whose lease is not yet released. */
  leases = 0;
  queuedBytes = 0;
  /** Set when collected; late lease releases then skip fairness correction. */
  collected = false;

  constructor(
    readonly fairnessId: string,
    readonly band: Band,
    readonly weight: number,
    readonly queue: FlowQueue,
    /** Creation order: the deterministic tie-break among flows. */
    readonly seq: number,
  ) {}

  get priority(): number {
    return this.band.priority;
  }
}
