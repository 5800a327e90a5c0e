// A RequestPipeline over real flow control, scheduler and in-flight tracker with a hand-set pool, recording what
// the scheduler was asked; for tests of the pipeline's behaviours (rewrites, headers, models, affinity, served).
import { ManualClock } from '../../src/core/index.js';
import { type EndpointSnapshot, InflightTracker } from '../../src/datalayer/index.js';
import { FlowController } from '../../src/flowcontrol/index.js';
import {
  type Decision,
  type GatewayObserver,
  type InferenceRequest,
  type PipelineOptions,
  ModelRewriter,
  RequestPipeline,
  type RewriteSet,
} from '../../src/gateway/index.js';
import { type ScheduleRequest, Scheduler, type SchedulerOptions, createPrefixHasher } from '../../src/scheduler/index.js';
import { SettableSaturation } from './settable-saturation.js';
import { StaticPool, endpoint } from './static-pool.js';

export interface PipelineFixtureOptions {
  readonly endpoints?: readonly EndpointSnapshot[];
  readonly mode?: 'trusted' | 'strip';
  readonly rewrites?: readonly RewriteSet[];
  readonly scheduler?: SchedulerOptions;
  readonly saturation?: number;
  readonly observer?: GatewayObserver;
  readonly extra?: Partial<PipelineOptions>;
}

export async function pipelineFixture(o: PipelineFixtureOptions = {}) {
  const clock = new ManualClock();
  const saturation = new SettableSaturation(o.saturation ?? 0);
  const pool = new StaticPool(o.endpoints ?? [endpoint('10.0.0.1', 8000), endpoint('10.0.0.1', 8001)]);
  const fc = new FlowController({ saturation, clock });
  const inflight = new InflightTracker({ clock });
  const real = new Scheduler({ ...o.scheduler });
  const scheduled: ScheduleRequest[] = [];
  const recorded: { endpoint: string; blocks: number }[] = [];
  const scheduler = {
    schedule: (...args: Parameters<Scheduler['schedule']>) => {
      scheduled.push(args[0]);
      return real.schedule(...args);
    },
    recordRouting: (hashes: ArrayLike<number>, e: { readonly id: string }) => {
      recorded.push({ endpoint: e.id, blocks: hashes.length });
      real.prefixIndex.record(hashes, e.id, real.prefixIndex.defaultCapacity);
    },
  };
  const rewriter = new ModelRewriter(o.rewrites ?? []);
  const pipeline = new RequestPipeline({
    flowControl: fc,
    scheduler,
    hasher: await createPrefixHasher(),
    pool,
    inflight,
    clock,
    identity: { objectives: new Map([['interactive', 10], ['batch', -1]]), mode: o.mode ?? 'trusted', priorityCaps: new Map() },
    rewriter,
    ...(o.observer !== undefined ? { observer: o.observer } : {}),
    ...o.extra,
  });
  return { pipeline, fc, pool, inflight, scheduled, recorded, rewriter, clock, saturation, scheduler: real };
}

export function inferenceRequest(body: unknown, headers: Record<string, string> = {}, extra: Partial<InferenceRequest> = {}): InferenceRequest {
  return {
    requestId: 'req-1',
    method: 'POST',
    path: '/v1/completions',
    headers: new Map(Object.entries(headers)),
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    signal: new AbortController().signal,
    ...extra,
  };
}

export function routed(d: Decision): Decision & { kind: 'route' } {
  if (d.kind !== 'route') throw new Error(`expected a route, got ${d.status} ${d.reason}: ${d.message}`);
  return d;
}

export function rejected(d: Decision): Decision & { kind: 'reject' } {
  if (d.kind !== 'reject') throw new Error(`expected a rejection, got a route to ${d.endpoints.join(',')}`);
  return d;
}
