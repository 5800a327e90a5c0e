// The scale-from-zero waiting room: while the pool has no endpoints at all, requests wait here (up to
// flowControl.noEndpointRequestTtlMs) and go on to flow control the moment an endpoint appears. Distinct from a
// pool whose endpoints exist but do not answer (pool-unreachable), which flow control answers itself.
import { type Clock } from '../core/index.js';
import { type PoolSnapshot, type PoolView } from '../datalayer/index.js';

export type WaitResult = 'ready' | 'timeout' | 'cancelled' | 'shutdown';

interface Waiter {
  finish(result: WaitResult): void;
}

/**
 * One pool subscription for all waiters, held only while someone waits. wait: O(1); an endpoint appearing
 * releases every waiter, O(waiters), in arrival order (a Set keeps insertion order).
 */
export class EndpointWaitingRoom {
  private readonly waiters = new Set<Waiter>();
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly pool: PoolView,
    private readonly clock: Clock,
  ) {}

  /** Requests waiting now. */
  get size(): number {
    return this.waiters.size;
  }

  /** Resolves `ready` at once when the pool has an endpoint; else when one appears, the time is up, or `signal` aborts. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<WaitResult> {
    if (this.closed) return Promise.resolve('shutdown');
    if (this.pool.current().endpoints.length > 0) return Promise.resolve('ready');
    if (signal.aborted) return Promise.resolve('cancelled');
    return new Promise<WaitResult>((resolve) => {
      const onAbort = (): void => waiter.finish('cancelled');
      const waiter: Waiter = {
        finish: (result) => {
          if (!this.waiters.delete(waiter)) return;
          this.clock.clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          if (this.waiters.size === 0) this.release();
          resolve(result);
        },
      };
      // Set before anything can call finish (the timer, the signal or a pool snapshot, all asynchronous).
      const timer = this.clock.setTimeout(() => waiter.finish('timeout'), timeoutMs);
      this.waiters.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      this.unsubscribe ??= this.pool.subscribe((snapshot) => this.onSnapshot(snapshot));
    });
  }

  /** Answers every waiter `shutdown`, and every later `wait` too. */
  close(): void {
    this.closed = true;
    for (const w of [...this.waiters]) w.finish('shutdown');
  }

  private onSnapshot(snapshot: PoolSnapshot): void {
    if (snapshot.endpoints.length === 0) return;
    for (const w of [...this.waiters]) w.finish('ready');
  }

  private release(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
