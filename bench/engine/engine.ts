// The engine's side of every workload: the real FlowController (SystemClock, default policies: weighted-fair,
// fcfs, strict bands, 60 s TTL) under free flow, a concurrency-limit backlog, a 100k burst, a gated drain, and
// the heap held per queued request. Callers use either of its two APIs: `enqueue` (outcome by callback) or
// `enqueueAndWait` (outcome by Promise, which adds a Promise and its resolvers per request).
import {
  type EnqueueOptions,
  FlowController,
  type FlowRequest,
  type Lease,
  type Outcome,
  type SaturationSource,
} from '../../src/flowcontrol/index.js';
import { type CallbackCallerFactory, type CallerFactory } from './closed-loop.js';
import { BatchReleaser } from './releaser.js';
import { type Mix, makeRequests, tenantIds } from './requests.js';
import { ConcurrencyLimitSaturation, GateSaturation } from './saturation.js';
import { forceGc } from './stats.js';

/** Capacity is not what is measured: bands hold any backlog and flows up to 100k tenants x 8 bands stay live. */
export function newController(saturation: SaturationSource): FlowController {
  return new FlowController({
    saturation,
    bandTemplate: { maxRequests: Infinity, maxBytes: Infinity },
    maxFlows: 1_000_000,
  });
}

export type EngineApi = 'callback' | 'promise';

/**
 * The options of one caller: each lease is released shortly after dispatch, on a later microtask in free flow,
 * on the next event-loop turn behind a concurrency limit (and then it leaves the limit, which signals the change).
 */
function callerOptions(releaser: BatchReleaser, limit: ConcurrencyLimitSaturation | undefined, onDispatched: () => void): EnqueueOptions {
  return {
    onDispatch: (lease: Lease) => {
      onDispatched();
      if (limit === undefined) {
        releaser.later(() => lease.release());
      } else {
        limit.begin();
        releaser.later(() => {
          lease.release();
          limit.end();
        });
      }
    },
  };
}

const newReleaser = (limit: ConcurrencyLimitSaturation | undefined): BatchReleaser =>
  new BatchReleaser(limit === undefined ? 'microtask' : 'next-turn');

/** Callers of the engine through `enqueueAndWait`. */
export function engineCallers(fc: FlowController, limit: ConcurrencyLimitSaturation | undefined): CallerFactory {
  const releaser = newReleaser(limit);
  return (onDispatched) => {
    const options = callerOptions(releaser, limit, onDispatched);
    return (request) => fc.enqueueAndWait(request, options);
  };
}

/** Callers of the engine through `enqueue`. */
export function engineCallbackCallers(fc: FlowController, limit: ConcurrencyLimitSaturation | undefined): CallbackCallerFactory {
  const releaser = newReleaser(limit);
  return (onDispatched) => {
    const options = callerOptions(releaser, limit, onDispatched);
    return (request, done) => fc.enqueue(request, done, options);
  };
}

const ignoreOutcome = (_outcome: Outcome): void => {};

/** Submits without waiting, through either API. */
function submitter(fc: FlowController, api: EngineApi): (request: FlowRequest, options?: EnqueueOptions) => void {
  return api === 'callback'
    ? (request, options) => fc.enqueue(request, ignoreOutcome, options)
    : (request, options) => void fc.enqueueAndWait(request, options);
}

export interface BurstFigures {
  readonly requests: number;
  /** Time to push every request (the engine queues all but the first `limit`). */
  readonly enqueueMs: number;
  /** From the first push to the last dispatch. */
  readonly ms: number;
  readonly perSec: number;
}

/** Pushes all `requests` at once behind a concurrency limit; each dispatched request completes on the next turn. */
export async function engineBurst(requests: readonly FlowRequest[], limit: number, api: EngineApi): Promise<BurstFigures> {
  const saturation = new ConcurrencyLimitSaturation(limit);
  const fc = newController(saturation);
  const releaser = new BatchReleaser();
  const n = requests.length;
  let dispatched = 0;
  let finish = (): void => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  let end = 0;
  const options: EnqueueOptions = {
    onDispatch: (lease) => {
      saturation.begin();
      releaser.later(() => {
        lease.release();
        saturation.end();
      });
      if (++dispatched === n) {
        end = performance.now();
        finish();
      }
    },
  };
  const submit = submitter(fc, api);
  const start = performance.now();
  for (const r of requests) submit(r, options);
  const enqueueMs = performance.now() - start;
  await done;
  await fc.close();
  const ms = end - start;
  return { requests: n, enqueueMs, ms, perSec: (n / ms) * 1000 };
}

export interface DrainFigures {
  readonly backlog: number;
  /** From opening the gate to the last dispatch. */
  readonly ms: number;
  readonly perSec: number;
  /** From opening the gate to the first dispatch. */
  readonly firstDispatchMs: number;
  /**
   * Event-loop utilisation during the drain (time not spent idle waiting for I/O or timers): near 1 means the
   * engine never paced itself (a timer between batches would show as idle time).
   */
  readonly loopUtilisation: number;
}

/** Queues `requests` behind a closed gate (through `enqueue`), then opens it at once and times the drain. */
export async function engineDrain(requests: readonly FlowRequest[]): Promise<DrainFigures> {
  const gate = new GateSaturation(true);
  const fc = newController(gate);
  const n = requests.length;
  const leases: Lease[] = [];
  let first = 0;
  let end = 0;
  let finish = (): void => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const options: EnqueueOptions = {
    onDispatch: (lease) => {
      if (leases.length === 0) first = performance.now();
      leases.push(lease);
      if (leases.length === n) {
        end = performance.now();
        finish();
      }
    },
  };
  const submit = submitter(fc, 'callback');
  for (const r of requests) submit(r, options);
  if (fc.stats().queuedRequests !== n) throw new Error(`drain: ${fc.stats().queuedRequests} of ${n} queued`);
  forceGc();
  const elu0 = performance.eventLoopUtilization();
  const start = performance.now();
  gate.set(false);
  await done;
  const elu = performance.eventLoopUtilization(elu0);
  for (const lease of leases) lease.release();
  await fc.close();
  const ms = end - start;
  return {
    backlog: n,
    ms,
    perSec: (n / ms) * 1000,
    firstDispatchMs: first - start,
    loopUtilisation: elu.utilization,
  };
}

export interface HeapFigures {
  readonly api: EngineApi;
  readonly flows: number;
  readonly bands: number;
  readonly queued: number;
  /** Heap of the request objects alone (built and held by the caller), bytes each. */
  readonly requestBytes: number;
  /** Heap of the request objects plus everything the engine holds for them while queued, bytes each. */
  readonly queuedBytes: number;
  /** queuedBytes - requestBytes: what queueing costs beyond the request object. */
  readonly engineBytes: number;
  readonly liveFlows: number;
}

const heapUsed = (): number => {
  forceGc();
  return process.memoryUsage().heapUsed;
};

/**
 * Heap per queued request with the gate closed: (heapUsed delta) / n, with and without the request objects.
 * Through `enqueueAndWait` this counts the Promise and its resolvers too.
 */
export async function engineHeap(n: number, mix: Mix, seed: number, api: EngineApi): Promise<HeapFigures> {
  tenantIds(mix.flows); // interned before measuring: shared by requests, not per request
  let requestBytes: number;
  {
    const before = heapUsed();
    const alone = makeRequests(n, mix, seed);
    requestBytes = (heapUsed() - before) / n;
    if (alone.length !== n) throw new Error('unreachable');
  }
  const gate = new GateSaturation(true);
  const fc = newController(gate);
  fc.start();
  const before = heapUsed();
  const requests = makeRequests(n, mix, seed);
  const submit = submitter(fc, api);
  for (const r of requests) submit(r);
  const after = heapUsed();
  const stats = fc.stats();
  if (stats.queuedRequests !== n) throw new Error(`heap: ${stats.queuedRequests} of ${n} queued`);
  await fc.close();
  const queuedBytes = (after - before) / n;
  return {
    api,
    flows: mix.flows,
    bands: mix.bands,
    queued: n,
    requestBytes,
    queuedBytes,
    engineBytes: queuedBytes - requestBytes,
    liveFlows: stats.liveFlows,
  };
}
