// A flow: the queue of one tenant (fairness id) within one priority band, plus the fairness bookkeeping for it.
import { type IntrusiveList, type ListLink } from '../core/index.js';
import type { Band } from './band.js';
import { type FlowQueue } from './queue/flow-queue.js';
import { ListQueue } from './queue/list-queue.js';

/**
 * In arrival order (`fcfs`, the default) the flow is itself the FIFO of its items (it extends ListQueue), so
 * queueing touches one object per tenant, not a flow and a queue beside it; deadline orders keep a heap in
 * `queue`. Either way, use `queue`.
 */
export class Flow extends ListQueue implements ListLink<Flow> {
  /** Fairness policies keep their per-flow numbers here for O(1) access instead of in side maps. */
  /** Weighted service received (tokens / weight): the virtual counter of `weighted-fair`. */
  virtualService = 0;
  /** Position in the band's fairness heap (`weighted-fair`, `global-strict`). */
  fairHeapIndex = -1;
  /** The flow is its own link in its band's round-robin ring. */
  prev: Flow | undefined = undefined;
  next: Flow | undefined = undefined;
  owner: IntrusiveList<Flow> | undefined = undefined;
  /** Neighbours in its band's queue-length bucket (fair-share overflow; see flow-lengths.ts). */
  lengthPrev: Flow | undefined = undefined;
  lengthNext: Flow | undefined = undefined;
  /** Listed in the idle-flow list (which is cleaned lazily, so a listed flow may be busy again). */
  idleListed = false;
  /**
   * When the flow last went idle, in whole milliseconds: a small integer V8 stores unboxed (for some 24 days of
   * process uptime; past that it is boxed like any other number, which costs speed, not correctness).
   */
  idleSince = 0;
  /** Dispatched requests of this flow whose lease is not yet released. */
  leases = 0;
  /** Weight this flow adds to its band's `activeWeight` (0 while it has nothing queued and nothing in flight). */
  activeWeight = 0;
  /** Set when collected; late lease releases then skip fairness correction. */
  collected = false;
  /** Its tenant is at its concurrency cap: the flow is kept out of the band's fairness state until released. */
  parked = false;

  readonly queue: FlowQueue;

  constructor(
    readonly fairnessId: string,
    readonly band: Band,
    /** The tenant's weight; a live reconfiguration may change it (future charges use the new one). */
    public weight: number,
    /** From the ordering policy; undefined: arrival order, kept by the flow itself. */
    queue: FlowQueue | undefined,
    /** Creation order: the deterministic tie-break among flows. */
    readonly seq: number,
  ) {
    super();
    this.queue = queue ?? this;
  }

  get priority(): number {
    return this.band.priority;
  }
}
