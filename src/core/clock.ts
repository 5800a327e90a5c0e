// Clock port: the one source of time and timers, so tests and the simulator can run in virtual time.

/** Opaque handle of a timer set through a {@link Clock}. */
export interface TimerHandle {
  readonly __timer: unique symbol;
}

export interface Clock {
  /** Monotonic milliseconds (fractional allowed); only differences are meaningful. */
  now(): number;
  /** Calls `fn` once after `delayMs` (>= 0). The timer never keeps the process alive on its own. */
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Calls `fn` once after pending I/O has had its turn (setImmediate): how long CPU-bound loops yield without
   * the 1 ms floor of a zero-delay timer. Not cancellable; `fn` must check whether it is still wanted.
   */
  defer(fn: () => void): void;
}

/** The longest delay Node's timers honour. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Wall-clock time for production: `performance.now()` and unref'd Node timers. */
export class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    // Node turns a delay above 2^31-1 ms into 1 ms; firing early is safe for every caller here (each re-checks
    // what is due and re-arms), firing every millisecond is not.
    const t = setTimeout(fn, Math.min(MAX_TIMER_DELAY_MS, Math.max(0, delayMs)));
    t.unref();
    return t as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  }

  defer(fn: () => void): void {
    setImmediate(fn);
  }
}

export const systemClock: Clock = new SystemClock();
