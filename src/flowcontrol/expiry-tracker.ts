// Deadline tracking for queued items: one heap ordered by expiry and one clock timer for the earliest, so an
// expired request leaves its queue within timer precision (not on a periodic sweep).
import { type Clock, IndexedHeap, type TimerHandle } from '../core/index.js';
import { type QueueItem } from './queue-item.js';

const EXPIRY_SLOT = {
  get: (i: QueueItem): number => i.expiryHeapIndex,
  set: (i: QueueItem, index: number): void => {
    i.expiryHeapIndex = index;
  },
};

/** Complexity: add and remove O(log n); the timer is re-armed only when the earliest deadline moves earlier. */
export class ExpiryTracker {
  private readonly heap = new IndexedHeap<QueueItem>(
    (a, b) => a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && a.seq < b.seq),
    EXPIRY_SLOT,
  );
  private timer: TimerHandle | undefined;
  private armedFor = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly onExpired: (item: QueueItem) => void,
  ) {}

  add(item: QueueItem): void {
    if (item.expiresAt === Infinity) return;
    this.heap.push(item);
    if (item.expiresAt < this.armedFor) this.arm(item.expiresAt);
  }

  remove(item: QueueItem): void {
    this.heap.remove(item);
    // A timer left armed for a removed item fires once, finds nothing due and re-arms: cheaper than re-arming here.
  }

  close(): void {
    this.disarm();
    this.heap.clear();
  }

  private arm(at: number): void {
    this.disarm();
    this.armedFor = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    for (let head = this.heap.peek(); head !== undefined && head.expiresAt <= now; head = this.heap.peek()) {
      this.heap.pop();
      this.onExpired(head);
    }
    const next = this.heap.peek();
    if (next !== undefined) this.arm(next.expiresAt);
  }
}
