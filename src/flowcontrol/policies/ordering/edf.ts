// Earliest deadline first: deadline = arrival + effective TTL (or the request's own deadline, if sooner).
import { HeapQueue } from '../../queue/heap-queue.js';
import { type QueueItem } from '../../queue-item.js';
import { type OrderingPolicy } from './ordering-policy.js';

const before = (a: QueueItem, b: QueueItem): boolean =>
  a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && a.seq < b.seq);

export const edfOrdering: OrderingPolicy = {
  name: 'edf',
  before,
  newQueue: () => new HeapQueue(before),
};
