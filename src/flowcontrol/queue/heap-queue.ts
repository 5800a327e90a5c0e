// Priority-ordered flow queue over an indexed heap: O(log n) push, pop and arbitrary removal, O(1) peek.
import { IndexedHeap } from '../../core/index.js';
import { type QueueItem } from '../queue-item.js';
import { type FlowQueue } from './flow-queue.js';

const FLOW_HEAP_SLOT = {
  get: (i: QueueItem): number => i.flowHeapIndex,
  set: (i: QueueItem, index: number): void => {
    i.flowHeapIndex = index;
  },
};

export class HeapQueue implements FlowQueue {
  private readonly heap: IndexedHeap<QueueItem>;

  /** `less(a, b)`: a is dispatched before b. Must be a strict total order (tie-break on seq). */
  constructor(less: (a: QueueItem, b: QueueItem) => boolean) {
    this.heap = new IndexedHeap(less, FLOW_HEAP_SLOT);
  }

  get size(): number {
    return this.heap.size;
  }

  push(item: QueueItem): void {
    this.heap.push(item);
  }

  peek(): QueueItem | undefined {
    return this.heap.peek();
  }

  newest(): QueueItem | undefined {
    let newest: QueueItem | undefined;
    for (const item of this.heap.toArray()) if (newest === undefined || item.seq > newest.seq) newest = item;
    return newest;
  }

  pop(): QueueItem | undefined {
    return this.heap.pop();
  }

  remove(item: QueueItem): boolean {
    return this.heap.remove(item);
  }
}
