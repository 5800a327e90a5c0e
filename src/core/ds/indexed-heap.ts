// Binary min-heap whose elements know their own position, so any element can be removed or re-keyed in O(log n).
// heap-js finds an arbitrary element by linear search (O(n)); flow queues and deadline tracking remove from the
// middle on every cancel, dispatch and expiry, so they need the index kept inside the element.

/** Where an element keeps its position in the heap (-1 when in none); written only by the heap. */
export interface HeapSlot<T> {
  get(item: T): number;
  set(item: T, index: number): void;
}

/**
 * Complexity: push, pop, remove, update O(log n); peek, peekSecond, size, has O(1).
 * An element may live in one IndexedHeap per slot accessor at a time.
 */
export class IndexedHeap<T> {
  private readonly items: T[] = [];

  constructor(
    private readonly less: (a: T, b: T) => boolean,
    private readonly slot: HeapSlot<T>,
  ) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** The item `pop()` would return after the top one: the lesser of the top's children. O(1). */
  peekSecond(): T | undefined {
    const a = this.items[1];
    const b = this.items[2];
    if (a === undefined || b === undefined) return a;
    return this.less(b, a) ? b : a;
  }

  has(item: T): boolean {
    const i = this.slot.get(item);
    return i >= 0 && i < this.items.length && this.items[i] === item;
  }

  push(item: T): void {
    this.items.push(item);
    this.slot.set(item, this.items.length - 1);
    this.siftUp(this.items.length - 1);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  /** Removes `item` if present; returns whether it was. */
  remove(item: T): boolean {
    if (!this.has(item)) return false;
    this.removeAt(this.slot.get(item));
    return true;
  }

  /** Restores heap order after `item`'s key changed (either direction). */
  update(item: T): void {
    if (!this.has(item)) return;
    const i = this.slot.get(item);
    this.siftUp(i);
    this.siftDown(this.slot.get(item));
  }

  /** Elements in heap (not sorted) order; for inspection and bulk eviction only. */
  toArray(): T[] {
    return this.items.slice();
  }

  clear(): void {
    for (const item of this.items) this.slot.set(item, -1);
    this.items.length = 0;
  }

  private removeAt(i: number): void {
    const items = this.items;
    const removed = items[i] as T;
    const last = items.pop() as T;
    this.slot.set(removed, -1);
    if (i < items.length) {
      items[i] = last;
      this.slot.set(last, i);
      // The moved element may belong higher or lower than the hole: try both (the Go reference only sifted down).
      this.siftUp(i);
      this.siftDown(this.slot.get(last));
    }
  }

  private siftUp(start: number): void {
    const items = this.items;
    let i = start;
    const item = items[i] as T;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as T;
      if (!this.less(item, p)) break;
      items[i] = p;
      this.slot.set(p, i);
      i = parent;
    }
    items[i] = item;
    this.slot.set(item, i);
  }

  private siftDown(start: number): void {
    const items = this.items;
    const n = items.length;
    let i = start;
    const item = items[i] as T;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && this.less(items[right] as T, items[left] as T)) child = right;
      const c = items[child] as T;
      if (!this.less(c, item)) break;
      items[i] = c;
      this.slot.set(c, i);
      i = child;
    }
    items[i] = item;
    this.slot.set(item, i);
  }
}
