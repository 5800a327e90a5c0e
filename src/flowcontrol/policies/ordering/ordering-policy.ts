// Ordering policies: which request inside one flow goes first. A policy is a name, an order and a queue factory.
import { type FlowQueue } from '../../queue/flow-queue.js';
import { type QueueItem } from '../../queue-item.js';

export interface OrderingPolicy {
  readonly name: string;
  /** Strict total order: a goes before b. Also used by `global-strict` fairness to compare flow heads. */
  before(a: QueueItem, b: QueueItem): boolean;
  newQueue(): FlowQueue;
}
