// FIFO flow queue over the items' own flow links: O(1) push, pop, peek and arbitrary removal. It is the list
// itself (not a wrapper around one), so a flow's queue costs one object and one memory access fewer per request.
import { ItemList, ItemSlot } from '../item-lists.js';
import { type QueueItem } from '../queue-item.js';
import { type FlowQueue } from './flow-queue.js';

export class ListQueue extends ItemList implements FlowQueue {
  constructor() {
    super(ItemSlot.flow);
  }

  peek(): QueueItem | undefined {
    return this.head;
  }

  newest(): QueueItem | undefined {
    return this.tail;
  }

  pop(): QueueItem | undefined {
    const item = this.head;
    if (item !== undefined) super.remove(item);
    return item;
  }

  override remove(item: QueueItem): boolean {
    if (!this.has(item)) return false;
    super.remove(item);
    return true;
  }
}
