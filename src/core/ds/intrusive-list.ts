// Doubly linked list whose links live inside the elements: O(1) push, shift, pop and removal from the middle,
// with no allocation per operation. Used where FIFO order must also allow arbitrary removal (cancel, expiry),
// which Array.shift (O(n)) and denque (no middle removal) cannot do cheaply.

export interface ListLink<T> {
  prev: T | undefined;
  next: T | undefined;
  /** The list the element is in, so removal of an element that is not there is a no-op. */
  owner: IntrusiveList<T> | undefined;
}

export function newLink<T>(): ListLink<T> {
  return { prev: undefined, next: undefined, owner: undefined };
}

/** Complexity: every operation O(1). An element may be in one list per link accessor at a time. */
export class IntrusiveList<T> {
  private first: T | undefined;
  private last: T | undefined;
  private count = 0;

  constructor(private readonly link: (item: T) => ListLink<T>) {}

  get size(): number {
    return this.count;
  }

  get head(): T | undefined {
    return this.first;
  }

  get tail(): T | undefined {
    return this.last;
  }

  has(item: T): boolean {
    return this.link(item).owner === this;
  }

  push(item: T): void {
    const l = this.link(item);
    if (l.owner !== undefined) throw new Error('element is already in a list');
    l.owner = this;
    l.prev = this.last;
    l.next = undefined;
    if (this.last === undefined) this.first = item;
    else this.link(this.last).next = item;
    this.last = item;
    this.count++;
  }

  shift(): T | undefined {
    const item = this.first;
    if (item !== undefined) this.remove(item);
    return item;
  }

  pop(): T | undefined {
    const item = this.last;
    if (item !== undefined) this.remove(item);
    return item;
  }

  next(item: T): T | undefined {
    return this.link(item).next;
  }

  prev(item: T): T | undefined {
    return this.link(item).prev;
  }

  remove(item: T): boolean {
    const l = this.link(item);
    if (l.owner !== this) return false;
    if (l.prev === undefined) this.first = l.next;
    else this.link(l.prev).next = l.next;
    if (l.next === undefined) this.last = l.prev;
    else this.link(l.next).prev = l.prev;
    l.prev = undefined;
    l.next = undefined;
    l.owner = undefined;
    this.count--;
    return true;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    let cur = this.first;
    while (cur !== undefined) {
      const nxt = this.link(cur).next;
      yield cur;
      cur = nxt;
    }
  }
}
