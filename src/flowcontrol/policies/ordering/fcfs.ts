// First come, first served (the default): arrival order, O(1) queue (the flow's own FIFO, see flow.ts).
import { type QueueItem } from '../../queue-item.js';
import { type OrderingPolicy } from './ordering-policy.js';

export const fcfsOrdering: OrderingPolicy = {
  name: 'fcfs',
  before: (a: QueueItem, b: QueueItem) => a.seq < b.seq,
  newQueue: () => undefined,
};
