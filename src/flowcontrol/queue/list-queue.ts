// FIFO flow queue over an intrusive list: O(1) push, pop, peek and arbitrary removal.
import { IntrusiveList } from '../../core/index.js';
import { type QueueItem } from '../queue-item.js';

const selfLink = (i: QueueItem): QueueItem => i;
import { type FlowQueue } from './flow-queue.js';

export class ListQueue implements FlowQueue {
  private readonly list = new IntrusiveList<QueueItem>(selfLink);

  get size(): number {
    return this.list.size;
  }

  push(item: QueueItem): void {
    this.list.push(item);
  }

  peek(): QueueItem | undefined {
    return this.list.head;
  }

  newest(): QueueItem | undefined {
    return this.list.tail;
  }

  pop(): QueueItem | undefined {
    return this.list.shift();
  }

  remove(item: QueueItem): boolean {
    return this.list.remove(item);
  }
}
