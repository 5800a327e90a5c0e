// A flow: the queue of one tenant (fairness id) within one priority band, plus the fairness bookkeeping for it.
import { type IntrusiveList, type ListLink } from '../core/index.js';
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
  /** Neighbours in its band's queue-length bucket (fair-share overflow; see flow-lengths.ts). */
  lengthPrev: Flow | undefined = undefined;
  lengthNext: Flow | undefined = undefined;
  /** Listed in the idle-flow list (which is cleaned lazily, so a listed flow may be busy again). */
  idleListed = false;
  /** When the flow last went idle, in whole milliseconds: kept a small integer so V8 stores it unboxed. */
  idleSince = 0;
  /** Dispatched requests of this flow whose lease is not yet released. */
  leases = 0;
  /** Items in `queue`, kept here so the idle check on every release stays on this object's memory. */
  queued = 0;
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
