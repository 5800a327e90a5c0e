// FIFO flow queue over the items' own flow links: O(1) push, pop, peek and arbitrary removal.
import { ItemList, ItemSlot } from '../item-lists.js';
import { type QueueItem } from '../queue-item.js';
import { type FlowQueue } from './flow-queue.js';

export class ListQueue implements FlowQueue {
  private readonly list = new ItemList(ItemSlot.flow);

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
    const item = this.list.head;
    if (item !== undefined) this.list.remove(item);
    return item;
  }

  remove(item: QueueItem): boolean {
    if (!this.list.has(item)) return false;
    this.list.remove(item);
    return true;
  }
}
