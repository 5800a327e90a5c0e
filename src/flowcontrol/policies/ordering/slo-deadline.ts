// SLO deadline: the request whose time-to-first-token objective ends soonest goes first; requests without an
// objective fall back to their TTL deadline, so they are neither starved nor favoured.
import { HeapQueue } from '../../queue/heap-queue.js';
import { type QueueItem } from '../../queue-item.js';
import { type OrderingPolicy } from './ordering-policy.js';

const before = (a: QueueItem, b: QueueItem): boolean =>
  a.sloDeadline < b.sloDeadline || (a.sloDeadline === b.sloDeadline && a.seq < b.seq);

export const sloDeadlineOrdering: OrderingPolicy = {
  name: 'slo-deadline',
  before,
  newQueue: () => new HeapQueue(before),
};
