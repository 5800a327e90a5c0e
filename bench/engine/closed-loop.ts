// Closed-loop drivers: many concurrent callers, each submitting its next request once the previous one has its
// outcome, so the number of outstanding requests stays at the caller count. Two forms, one per API: callers that
// await a Promise (the engine's enqueueAndWait, p-queue's add) and callers called back (the engine's enqueue).
// Both measure dispatches/s, the enqueue-to-dispatch latency of every request and, once every caller has its
// first request out, the steady rate while the backlog is at its full size.
import { type FlowRequest } from '../../src/flowcontrol/index.js';
import { percentileOf } from './stats.js';

/** Builds one awaiting caller: `onDispatched` must be called synchronously when its request is dispatched. */
export type CallerFactory = (onDispatched: () => void) => (request: FlowRequest) => Promise<unknown>;

/** Builds one called-back caller: `submit(request, done)` calls `done` once when the request has its outcome. */
export type CallbackCallerFactory = (onDispatched: () => void) => (request: FlowRequest, done: () => void) => void;

export interface LoopFigures {
  readonly requests: number;
  readonly ms: number;
  readonly perSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /**
   * Dispatches/s from the moment every caller had a request out (the backlog full) to the moment the last request
   * was issued (before the backlog runs down): the rate at a backlog of `callers` requests.
   */
  readonly steadyPerSec: number;
}

/** Bookkeeping shared by both drivers. */
class Recorder {
  readonly latencies: Float64Array;
  issued = 0;
  dispatched = 0;
  readonly started = performance.now();
  private fullAt = Number.NaN;
  private fullDispatched = 0;
  private lastIssueAt = Number.NaN;
  private lastIssueDispatched = 0;

  constructor(readonly requests: readonly FlowRequest[]) {
    this.latencies = new Float64Array(requests.length);
  }

  /** The next request to send, or undefined when all are out. */
  next(): FlowRequest | undefined {
    if (this.issued >= this.requests.length) return undefined;
    const request = this.requests[this.issued++];
    if (this.issued === this.requests.length) {
      this.lastIssueAt = performance.now();
      this.lastIssueDispatched = this.dispatched;
    }
    return request;
  }

  /** Call once every caller has sent its first request: the backlog is at its full size from here on. */
  markFull(): void {
    this.fullAt = performance.now();
    this.fullDispatched = this.dispatched;
  }

  finish(): LoopFigures {
    const n = this.requests.length;
    const ms = performance.now() - this.started;
    if (this.dispatched !== n) throw new Error(`closed loop: ${this.dispatched} of ${n} requests dispatched`);
    const steadyMs = this.lastIssueAt - this.fullAt;
    return {
      requests: n,
      ms,
      perSec: (n / ms) * 1000,
      p50Us: percentileOf(this.latencies, n, 50) * 1000,
      p99Us: percentileOf(this.latencies, n, 99) * 1000,
      steadyPerSec: steadyMs > 0 ? ((this.lastIssueDispatched - this.fullDispatched) / steadyMs) * 1000 : Number.NaN,
    };
  }
}

/** Sends every request of `requests` through `callers` concurrent awaiting callers. */
export async function closedLoop(requests: readonly FlowRequest[], callers: number, newCaller: CallerFactory): Promise<LoopFigures> {
  const rec = new Recorder(requests);
  const runCaller = async (): Promise<void> => {
    let t0 = 0;
    const submit = newCaller(() => {
      rec.latencies[rec.dispatched++] = performance.now() - t0;
    });
    for (let request = rec.next(); request !== undefined; request = rec.next()) {
      t0 = performance.now();
      await submit(request);
    }
  };
  const running = Array.from({ length: Math.min(callers, requests.length) }, runCaller);
  rec.markFull();
  await Promise.all(running);
  return rec.finish();
}

/** Sends every request of `requests` through `callers` concurrent called-back callers. */
export function closedLoopCallbacks(requests: readonly FlowRequest[], callers: number, newCaller: CallbackCallerFactory): Promise<LoopFigures> {
  const rec = new Recorder(requests);
  const active = Math.min(callers, requests.length);
  return new Promise<LoopFigures>((resolve, reject) => {
    let finished = 0;
    const startCaller = (): void => {
      let t0 = 0;
      const submit = newCaller(() => {
        rec.latencies[rec.dispatched++] = performance.now() - t0;
      });
      const sendNext = (): void => {
        const request = rec.next();
        if (request === undefined) {
          if (++finished === active) {
            try {
              resolve(rec.finish());
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          }
          return;
        }
        t0 = performance.now();
        submit(request, sendNext);
      };
      sendNext();
    };
    for (let c = 0; c < active; c++) startCaller();
    rec.markFull();
  });
}
