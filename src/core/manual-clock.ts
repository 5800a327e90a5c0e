// Virtual-time clock: timers fire only when a test or simulation advances time, in deadline order.
import { Heap } from 'heap-js';
import { type Clock, type TimerHandle } from './clock.js';

interface VirtualTimer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * A deterministic {@link Clock}. Timers due at the same instant fire in the order they were set.
 * Pending timers live in a binary heap: O(log n) to set and to fire; cancellation is lazy (O(1)).
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 0;
  private live = 0;
  private readonly timers = new Heap<VirtualTimer>((a, b) => a.due - b.due || a.id - b.id);
  private readonly byId = new Map<number, VirtualTimer>();

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const delay = Number.isFinite(delayMs) ? Math.max(0, delayMs) : 0;
    const timer: VirtualTimer = { id: this.nextId++, due: this.current + delay, fn, cancelled: false };
    this.timers.push(timer);
    this.byId.set(timer.id, timer);
    this.live++;
    return timer.id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    const id = handle as unknown as number;
    const timer = this.byId.get(id);
    if (timer && !timer.cancelled) {
      timer.cancelled = true;
      this.byId.delete(id);
      this.live--;
    }
  }

  /** In virtual time a deferred call is a zero-delay timer: it runs on the next advance. */
  defer(fn: () => void): void {
    this.setTimeout(fn, 0);
  }

  /** Timers set and neither fired nor cleared: a leak detector for tests. */
  pendingTimers(): number {
    return this.live;
  }

  /** The due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    this.dropCancelled();
    return this.timers.peek()?.due;
  }

  /** Moves time forward by `ms`, firing every timer due on the way (including timers those timers set). */
  advance(ms: number): void {
    this.advanceTo(this.current + Math.max(0, ms));
  }

  advanceTo(target: number): void {
    for (;;) {
      this.dropCancelled();
      const head = this.timers.peek();
      if (head === undefined || head.due > target) break;
      this.timers.pop();
      this.byId.delete(head.id);
      this.live--;
      this.current = Math.max(this.current, head.due);
      head.fn();
    }
    this.current = Math.max(this.current, target);
  }

  /** Fires timers until none is pending, or `limit` have fired (guards against self-rescheduling timers). */
  runAll(limit = 100_000): number {
    let fired = 0;
    while (fired < limit) {
      const due = this.nextDue();
      if (due === undefined) break;
      this.advanceTo(due);
      fired++;
    }
    return fired;
  }

  private dropCancelled(): void {
    while (this.timers.peek()?.cancelled === true) this.timers.pop();
  }
}
