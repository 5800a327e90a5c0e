// Ordering policies: which request inside one flow goes first. A policy is a name, an order and a queue factory.
import { type FlowQueue } from '../../queue/flow-queue.js';
import { type QueueItem } from '../../queue-item.js';

export interface OrderingPolicy {
  readonly name: string;
  /** Strict total order: a goes before b. Also used by `global-strict` fairness to compare flow heads. */
  before(a: QueueItem, b: QueueItem): boolean;
  /**
   * The queue of a new flow; undefined for arrival order, which the flow keeps itself (it is a FIFO of its items:
   * one object and one memory access fewer per request than a queue beside it).
   */
  newQueue(): FlowQueue | undefined;
}
