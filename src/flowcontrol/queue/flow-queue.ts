// The queue inside one flow: the ordering policy decides which implementation and which order.
import { type QueueItem } from '../queue-item.js';

/** Every implementation must support O(log n) or better removal of an arbitrary item. */
export interface FlowQueue {
  readonly size: number;
  push(item: QueueItem): void;
  /** The item the ordering policy would dispatch next. */
  peek(): QueueItem | undefined;
  pop(): QueueItem | undefined;
  /** The most recently enqueued item; used only when making room on overflow (heap queues scan: O(n)). */
  newest(): QueueItem | undefined;
  /** Removes `item` if present (cancel, expiry, displacement); returns whether it was. */
  remove(item: QueueItem): boolean;
}
