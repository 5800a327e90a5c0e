// The engine's waiting queue: FIFO (vLLM's default) or by request priority (vLLM's priority scheduling).
import Denque from 'denque';
import { Heap } from 'heap-js';

/** What the queue needs to know of a request. */
export interface Queueable {
  /** Lower is served first (vLLM's convention). */
  readonly priority: number;
  /** Arrival order; ties in priority are served oldest first. */
  readonly seq: number;
  /** Entries whose request left by other means (abort) are skipped lazily. */
  readonly state: string;
}

export type SchedulingPolicy = 'fcfs' | 'priority';

export interface WaitingQueue<T extends Queueable> {
  readonly size: number;
  push(item: T): void;
  /** Puts a preempted request back where it is served next (FIFO) or by its original key (priority). */
  pushFront(item: T): void;
  peek(): T | undefined;
  pop(): T | undefined;
  /** Marks one entry gone without searching for it: the caller has already changed the item's state. O(1). */
  forget(): void;
  toArray(): T[];
}

const WAITING = 'waiting';

/** FIFO on a ring buffer: push, pushFront, pop and peek are O(1) amortized; aborted entries are skipped lazily. */
export class FifoWaitingQueue<T extends Queueable> implements WaitingQueue<T> {
  private readonly items = new Denque<T>();
  private live = 0;

  get size(): number {
    return this.live;
  }

  push(item: T): void {
    this.items.push(item);
    this.live++;
  }

  pushFront(item: T): void {
    this.items.unshift(item);
    this.live++;
  }

  peek(): T | undefined {
    this.dropGone();
    return this.items.peekFront();
  }

  pop(): T | undefined {
    this.dropGone();
    const item = this.items.shift();
    if (item !== undefined) this.live--;
    return item;
  }

  forget(): void {
    this.live--;
  }

  toArray(): T[] {
    return this.items.toArray().filter((i) => i.state === WAITING);
  }

  private dropGone(): void {
    while (this.items.length > 0 && this.items.peekFront()?.state !== WAITING) this.items.shift();
  }
}

/** Binary heap on (priority, seq): O(log n) push and pop; aborted entries are skipped lazily. */
export class PriorityWaitingQueue<T extends Queueable> implements WaitingQueue<T> {
  private readonly heap = new Heap<T>((a, b) => a.priority - b.priority || a.seq - b.seq);
  private live = 0;

  get size(): number {
    return this.live;
  }

  push(item: T): void {
    this.heap.push(item);
    this.live++;
  }

  pushFront(item: T): void {
    this.push(item);
  }

  peek(): T | undefined {
    this.dropGone();
    return this.heap.peek();
  }

  pop(): T | undefined {
    this.dropGone();
    const item = this.heap.pop();
    if (item !== undefined) this.live--;
    return item;
  }

  forget(): void {
    this.live--;
  }

  toArray(): T[] {
    return this.heap.toArray().filter((i) => i.state === WAITING);
  }

  private dropGone(): void {
    while (this.heap.size() > 0 && this.heap.peek()?.state !== WAITING) this.heap.pop();
  }
}

export function createWaitingQueue<T extends Queueable>(policy: SchedulingPolicy): WaitingQueue<T> {
  return policy === 'priority' ? new PriorityWaitingQueue<T>() : new FifoWaitingQueue<T>();
}
