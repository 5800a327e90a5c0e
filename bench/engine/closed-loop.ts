// Closed-loop driver: many concurrent callers, each submitting its next request once the previous one is
// dispatched, so the number of outstanding requests stays at the caller count. Measures dispatches/s and the
// enqueue-to-dispatch latency of every request.
import { type FlowRequest } from '../../src/flowcontrol/index.js';
import { percentileOf } from './stats.js';

/** Builds one caller: `onDispatched` must be called synchronously when its request is dispatched. */
export type CallerFactory = (onDispatched: () => void) => (request: FlowRequest) => Promise<unknown>;

export interface LoopFigures {
  readonly requests: number;
  readonly ms: number;
  readonly perSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

/** Sends every request of `requests` through `callers` concurrent callers; resolves when all are dispatched. */
export async function closedLoop(requests: readonly FlowRequest[], callers: number, newCaller: CallerFactory): Promise<LoopFigures> {
  const n = requests.length;
  const latencies = new Float64Array(n);
  let issued = 0;
  let dispatched = 0;
  const runCaller = async (): Promise<void> => {
    let t0 = 0;
    const submit = newCaller(() => {
      latencies[dispatched++] = performance.now() - t0;
    });
    while (issued < n) {
      const request = requests[issued++] as FlowRequest;
      t0 = performance.now();
      await submit(request);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(callers, n) }, runCaller));
  const ms = performance.now() - start;
  if (dispatched !== n) throw new Error(`closed loop: ${dispatched} of ${n} requests dispatched`);
  return {
    requests: n,
    ms,
    perSec: (n / ms) * 1000,
    p50Us: percentileOf(latencies, n, 50) * 1000,
    p99Us: percentileOf(latencies, n, 99) * 1000,
  };
}
