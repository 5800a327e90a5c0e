// The three lists a queued item sits in: its flow's FIFO queue, its band's arrival order and its expiry lane.
// Their links are fields of the item itself, so queueing allocates no link objects, and every field access
// reads one known field of one class, which V8 keeps monomorphic. (The generic IntrusiveList reaches links
// through an accessor function; with an accessor per kind of list its call sites went megamorphic on the
// hottest path.)
import type { QueueItem } from './queue-item.js';

/** Which pair of link fields on QueueItem a list uses. */
export const ItemSlot = { flow: 0, band: 1, lane: 2 } as const;
export type ItemSlot = (typeof ItemSlot)[keyof typeof ItemSlot];

/**
 * A doubly linked list of queue items through the link fields of one slot. Complexity: every operation O(1).
 * An item is in at most one list per slot; the controller and the expiry tracker know which list that is.
 */
export class ItemList {
  private first: QueueItem | undefined = undefined;
  private last: QueueItem | undefined = undefined;
  private count = 0;

  constructor(private readonly slot: ItemSlot) {}

  get size(): number {
    return this.count;
  }

  get head(): QueueItem | undefined {
    return this.first;
  }

  get tail(): QueueItem | undefined {
    return this.last;
  }

  /** The item before `item` (toward the head). */
  before(item: QueueItem): QueueItem | undefined {
    return this.prevOf(item);
  }

  /** Whether `item` is in this list, given that it is in no other list of this slot. */
  has(item: QueueItem): boolean {
    return this.first === item || this.prevOf(item) !== undefined;
  }

  push(item: QueueItem): void {
    const last = this.last;
    this.setPrev(item, last);
    this.setNext(item, undefined);
    if (last === undefined) this.first = item;
    else this.setNext(last, item);
    this.last = item;
    this.count++;
  }

  /** Removes `item`, which must be in this list. */
  remove(item: QueueItem): void {
    const prev = this.prevOf(item);
    const next = this.nextOf(item);
    if (prev === undefined) this.first = next;
    else this.setNext(prev, next);
    if (next === undefined) this.last = prev;
    else this.setPrev(next, prev);
    this.setPrev(item, undefined);
    this.setNext(item, undefined);
    this.count--;
  }

  private prevOf(item: QueueItem): QueueItem | undefined {
    switch (this.slot) {
      case ItemSlot.flow:
        return item.flowPrev;
      case ItemSlot.band:
        return item.bandPrev;
      default:
        return item.lanePrev;
    }
  }

  private nextOf(item: QueueItem): QueueItem | undefined {
    switch (this.slot) {
      case ItemSlot.flow:
        return item.flowNext;
      case ItemSlot.band:
        return item.bandNext;
      default:
        return item.laneNext;
    }
  }

  private setPrev(item: QueueItem, prev: QueueItem | undefined): void {
    switch (this.slot) {
      case ItemSlot.flow:
        item.flowPrev = prev;
        break;
      case ItemSlot.band:
        item.bandPrev = prev;
        break;
      default:
        item.lanePrev = prev;
    }
  }

  private setNext(item: QueueItem, next: QueueItem | undefined): void {
    switch (this.slot) {
      case ItemSlot.flow:
        item.flowNext = next;
        break;
      case ItemSlot.band:
        item.bandNext = next;
        break;
      default:
        item.laneNext = next;
    }
  }
}
