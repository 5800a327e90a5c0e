// One timer for all scrapes of a thread: a heap of endpoints by due time, a bounded number of scrapes in flight,
// and timeouts found by a sweep of the in-flight queue. Replaces two Node timers per scrape (next start and
// timeout) with at most one pending timer in all; when scraping cannot keep up, due endpoints wait their turn in
// due order, so every endpoint is scraped less often instead of some timing out and going stale.
import { type Clock, type TimerHandle, requirePositive } from '../core/index.js';

/** What the scheduler drives: one endpoint's scrapes. */
export interface ScheduledScrape {
  /** Starts one scrape at `now`; it must end with `ScrapeScheduler.finished` (also after `timedOut`). */
  run(now: number): void;
  /** The scrape started by the last `run` passed its deadline (called after that loop turn's I/O). */
  timedOut(): void;
}

/** A scrape's place in the scheduler; one per endpoint, from `add` until `remove`. */
export interface ScrapeTask {
  readonly scrape: ScheduledScrape;
  /** When it is next due (scheduler clock). */
  due: number;
  /** Bumped at each start: an in-flight record of an earlier scrape is recognised as done. */
  seq: number;
  inFlight: boolean;
  removed: boolean;
}

interface InFlightRecord {
  readonly task: ScrapeTask;
  readonly seq: number;
}

/**
 * @default 64: scrapes in flight at once when the pool is small; a larger pool allows a quarter of its
 * endpoints (see `maxInFlightFor`).
 */
export const MIN_IN_FLIGHT = 64;

/**
 * The in-flight bound for a pool of `endpoints`: a quarter of the pool, at least MIN_IN_FLIGHT. On a pod
 * network (~1-3 ms per scrape) 1,000 endpoints every 50 ms keep ~20-60 scrapes in flight, well under it; on an
 * overloaded scraper it caps how long an answer waits to be read (in-flight / throughput), so answers are read
 * before they time out rather than all of them waiting behind each other.
 */
export function maxInFlightFor(endpoints: number): number {
  return Math.max(MIN_IN_FLIGHT, Math.ceil(endpoints / 4));
}

export interface ScrapeSchedulerOptions {
  readonly clock: Clock;
  /** Every scrape's timeout: constant, so in-flight records are in deadline order. */
  readonly timeoutMs: number;
  /** @default maxInFlightFor(current task count) */
  readonly maxInFlight?: number;
}

/**
 * Costs: add and each start/finish O(log n) (heap); the timeout sweep O(1) per scrape (each record is queued
 * and dequeued once); at most one pending timer, re-armed only when an earlier event appears.
 */
export class ScrapeScheduler {
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly fixedMaxInFlight: number | undefined;
  private readonly queue = new DueHeap();
  /** In start order, so in deadline order; records of scrapes that ended are skipped when they reach the front. */
  private readonly inFlight = new InFlightQueue();
  private running = 0;
  private tasks = 0;
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(options: ScrapeSchedulerOptions) {
    this.clock = options.clock;
    this.timeoutMs = requirePositive('timeoutMs', options.timeoutMs);
    this.fixedMaxInFlight = options.maxInFlight === undefined ? undefined : requirePositive('maxInFlight', options.maxInFlight);
  }

  /** Scrapes in flight now. */
  get inFlightCount(): number {
    return this.running;
  }

  /** Schedules a new endpoint's first scrape `delayMs` from now. */
  add(scrape: ScheduledScrape, delayMs: number): ScrapeTask {
    const task: ScrapeTask = { scrape, due: this.clock.now() + Math.max(0, delayMs), seq: 0, inFlight: false, removed: false };
    this.tasks++;
    if (!this.closed) {
      this.queue.push(task);
      this.arm();
    }
    return task;
  }

  /**
   * Takes a task out: it is never started again. A scrape in flight still ends with `finished` (which then
   * only frees its slot). O(1): the heap entry is skipped when it reaches the top.
   */
  remove(task: ScrapeTask): void {
    if (task.removed) return;
    task.removed = true;
    this.tasks--;
  }

  /** The scrape of `task` ended (however); the next one is due at `nextDue`. Starts waiting scrapes if due. */
  finished(task: ScrapeTask, nextDue: number): void {
    if (!task.inFlight) return;
    task.inFlight = false;
    this.running--;
    if (!task.removed && !this.closed) {
      task.due = nextDue;
      this.queue.push(task);
    }
    if (this.closed) return;
    this.startDue(this.clock.now());
    this.arm();
  }

  /** Clears the timer; nothing starts after this. Scrapes in flight are the owners' to abort. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.queue.clear();
    this.inFlight.clear();
  }

  private get maxInFlight(): number {
    return this.fixedMaxInFlight ?? maxInFlightFor(this.tasks);
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    const now = this.clock.now();
    this.sweep(now);
    this.startDue(now);
    this.arm();
  }

  /** Timeouts: records at the front whose deadline passed; each still-running one is told after this turn's I/O. */
  private sweep(now: number): void {
    let expired: InFlightRecord[] | undefined;
    const queue = this.inFlight;
    while (queue.size > 0 && queue.frontDeadline <= now) {
      const task = queue.frontTask;
      const seq = queue.frontSeq;
      queue.shift();
      if (task !== undefined && task.inFlight && task.seq === seq) (expired ??= []).push({ task, seq });
    }
    if (expired === undefined) return;
    const list = expired;
    // An answer already received but not yet read (a lagging loop runs timers before socket reads) must not be
    // thrown away as a timeout: that would also cost a reconnect, making the lag worse.
    this.clock.defer(() => {
      for (const r of list) if (r.task.inFlight && r.task.seq === r.seq && !r.task.removed) r.task.scrape.timedOut();
    });
  }

  private startDue(now: number): void {
    const max = this.maxInFlight;
    while (this.running < max) {
      const top = this.queue.peek();
      if (top === undefined || top.due > now) return;
      this.queue.pop();
      if (top.removed) continue;
      top.inFlight = true;
      top.seq++;
      this.running++;
      this.inFlight.push(top, top.seq, now + this.timeoutMs);
      top.scrape.run(now);
    }
  }

  /** Keeps one timer at the earliest of the next due start (when a slot is free) and the next deadline. */
  private arm(): void {
    if (this.closed) return;
    const inFlight = this.inFlight;
    while (inFlight.size > 0) {
      const task = inFlight.frontTask;
      if (task !== undefined && task.inFlight && task.seq === inFlight.frontSeq) break;
      inFlight.shift(); // ended already: drop it so it does not hold the timer early
    }
    while (this.queue.peek()?.removed === true) this.queue.pop();
    let next = inFlight.size > 0 ? inFlight.frontDeadline : Number.POSITIVE_INFINITY;
    if (this.running < this.maxInFlight) next = Math.min(next, this.queue.peek()?.due ?? Number.POSITIVE_INFINITY);
    if (next === Number.POSITIVE_INFINITY || next >= this.timerAt) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = this.clock.setTimeout(() => this.tick(), Math.max(0, next - this.clock.now()));
  }
}

/**
 * FIFO of started scrapes (task, its seq at the start, deadline) in three parallel ring arrays: push and shift
 * O(1) amortised, and no object per scrape (a record object a scrape was ~60 bytes of the worker's garbage).
 * Grows by doubling; never shrinks (it holds at most the scrapes started within one timeout).
 */
export class InFlightQueue {
  private tasks: (ScrapeTask | undefined)[] = new Array<ScrapeTask | undefined>(64).fill(undefined);
  private seqs = new Float64Array(64);
  private deadlines = new Float64Array(64);
  private head = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The front entry's fields; meaningful only when size > 0. */
  get frontTask(): ScrapeTask | undefined {
    return this.tasks[this.head];
  }

  get frontSeq(): number {
    return this.seqs[this.head] ?? -1;
  }

  get frontDeadline(): number {
    return this.deadlines[this.head] ?? Number.POSITIVE_INFINITY;
  }

  push(task: ScrapeTask, seq: number, deadline: number): void {
    if (this.count === this.tasks.length) this.grow();
    const at = (this.head + this.count) & (this.tasks.length - 1);
    this.tasks[at] = task;
    this.seqs[at] = seq;
    this.deadlines[at] = deadline;
    this.count++;
  }

  shift(): void {
    if (this.count === 0) return;
    this.tasks[this.head] = undefined;
    this.head = (this.head + 1) & (this.tasks.length - 1);
    this.count--;
  }

  clear(): void {
    this.tasks.fill(undefined);
    this.head = 0;
    this.count = 0;
  }

  private grow(): void {
    const capacity = this.tasks.length;
    const tasks = new Array<ScrapeTask | undefined>(capacity * 2).fill(undefined);
    const seqs = new Float64Array(capacity * 2);
    const deadlines = new Float64Array(capacity * 2);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & (capacity - 1);
      tasks[i] = this.tasks[from];
      seqs[i] = this.seqs[from] ?? 0;
      deadlines[i] = this.deadlines[from] ?? 0;
    }
    this.tasks = tasks;
    this.seqs = seqs;
    this.deadlines = deadlines;
    this.head = 0;
  }
}

/**
 * Binary min-heap of tasks by `due`: push and pop O(log n), peek O(1). Hand-written for the one key rather than a
 * general heap with a comparator callback: at 20,000 scrapes a second the push and pop per scrape showed.
 */
export class DueHeap {
  private readonly items: ScrapeTask[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): ScrapeTask | undefined {
    return this.items[0];
  }

  push(task: ScrapeTask): void {
    const items = this.items;
    let i = items.length;
    items.push(task);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent];
      if (p === undefined || p.due <= task.due) break;
      items[i] = p;
      i = parent;
    }
    items[i] = task;
  }

  pop(): ScrapeTask | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    const n = items.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      let c = items[left];
      const r = items[right];
      if (r !== undefined && c !== undefined && r.due < c.due) {
        child = right;
        c = r;
      }
      if (c === undefined || c.due >= last.due) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}
