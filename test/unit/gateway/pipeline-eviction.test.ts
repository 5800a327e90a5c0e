import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { InflightTracker } from '../../../src/datalayer/index.js';
import { type ActualCost, type EvictionTarget, type Lease, type Outcome } from '../../../src/flowcontrol/index.js';
import { type FlowControlPort, type InferenceRequest, type RejectDecision, RequestPipeline, StreamProgress } from '../../../src/gateway/index.js';
import { Scheduler, createPrefixHasher } from '../../../src/scheduler/index.js';
import { StaticPool, endpoint } from '../../support/static-pool.js';

/** A lease that records how it was used. */
class RecordingLease implements Lease {
  readonly priority = -1;
  readonly fairnessId = 'bulk';
  readonly dispatchedAt = 0;
  evictable: boolean;
  released: (ActualCost | undefined)[] = [];
  progress: number[] = [];

  constructor(evictable: boolean) {
    this.evictable = evictable;
  }

  reportProgress(outputTokens: number): void {
    this.progress.push(outputTokens);
  }

  release(actual?: ActualCost): void {
    this.released.push(actual);
    this.evictable = false;
  }
}

/** Flow control that dispatches at once, and can evict the request inside the dispatch, before it is routed. */
function flowControl(lease: RecordingLease, evictBeforeRouting: boolean): FlowControlPort & { target?: EvictionTarget } {
  const port: FlowControlPort & { target?: EvictionTarget } = {
    enqueueAndWait: (_r, o) => {
      port.target = o.evictionTarget;
      o.onDispatch?.(lease);
      if (evictBeforeRouting) {
        expect(o.evictionTarget?.evict({ reason: 'preempted', forPriority: 10, message: 'made room' })).toBe(true);
      }
      return Promise.resolve<Outcome>({ kind: 'dispatched', lease, waitMs: 0 });
    },
  };
  return port;
}

async function pipelineWith(port: FlowControlPort) {
  const clock = new ManualClock();
  const inflight = new InflightTracker({ clock });
  const pipeline = new RequestPipeline({
    flowControl: port,
    scheduler: new Scheduler(),
    hasher: await createPrefixHasher(),
    pool: new StaticPool([endpoint('10.0.0.1', 8000, { waitingQueue: 0, kvCacheUsage: 0.1 })]),
    inflight,
    clock,
    identity: { objectives: new Map([['batch', -1]]), mode: 'trusted', priorityCaps: new Map() },
  });
  return { pipeline, inflight };
}

function request(): InferenceRequest {
  return {
    requestId: 'r1',
    method: 'POST',
    path: '/v1/completions',
    headers: new Map([['x-gateway-inference-objective', 'batch']]),
    body: Buffer.from(JSON.stringify({ model: 'm', prompt: 'hello', max_tokens: 64, stream: true })),
    signal: new AbortController().signal,
  };
}

describe('RequestPipeline and in-flight eviction', () => {
  it('answers 429 evicted when taken back before it is routed, releasing everything and charging the tenant nothing', async () => {
    const lease = new RecordingLease(true);
    const { pipeline, inflight } = await pipelineWith(flowControl(lease, true));
    const d = await pipeline.handle(request());
    expect(d).toMatchObject({ kind: 'reject', status: 429, reason: 'evicted', retryAfterSeconds: 1 });
    expect(lease.released).toEqual([{ promptTokens: 0, outputTokens: 0 }]);
    expect(inflight.totalRequests()).toBe(0);
  });

  it('hands an evictable route an eviction channel; the front end carries it out and the tenant is charged nothing', async () => {
    const lease = new RecordingLease(true);
    const port = flowControl(lease, false);
    const { pipeline, inflight } = await pipelineWith(port);
    const d = await pipeline.handle(request());
    if (d.kind !== 'route' || d.eviction === undefined) throw new Error('expected an evictable route');
    const told: RejectDecision[] = [];
    d.eviction.listen((rejection) => {
      told.push(rejection);
      d.response.onEnd('evicted');
      return true;
    });
    expect(port.target?.evict({ reason: 'preempted', forPriority: 10, message: 'made room' })).toBe(true);
    expect(told).toMatchObject([{ status: 429, reason: 'evicted', message: 'made room' }]);
    expect(lease.released).toEqual([{ promptTokens: 0, outputTokens: 0 }]);
    expect(inflight.totalRequests()).toBe(0);
    // Over: a second attempt is declined.
    expect(port.target?.evict({ reason: 'preempted', forPriority: 10, message: 'again' })).toBe(false);
  });

  it('declines when the front end can no longer take the request back, and after the response ended', async () => {
    const lease = new RecordingLease(true);
    const port = flowControl(lease, false);
    const { pipeline } = await pipelineWith(port);
    const d = await pipeline.handle(request());
    if (d.kind !== 'route' || d.eviction === undefined) throw new Error('expected an evictable route');
    d.eviction.listen(() => false);
    expect(port.target?.evict({ reason: 'preempted', forPriority: 10, message: 'x' })).toBe(false);
    d.response.onEnd('complete');
    expect(port.target?.evict({ reason: 'preempted', forPriority: 10, message: 'x' })).toBe(false);
    expect(lease.released).toHaveLength(1);
  });

  it('gives a route no eviction channel when flow control will not take it back', async () => {
    const lease = new RecordingLease(false);
    const { pipeline } = await pipelineWith(flowControl(lease, false));
    const d = await pipeline.handle(request());
    expect(d.kind === 'route' && d.eviction).toBe(undefined);
  });

  it('reports streamed output progress to the lease while it is evictable', async () => {
    const lease = new RecordingLease(true);
    const { pipeline } = await pipelineWith(flowControl(lease, false));
    const d = await pipeline.handle(request());
    if (d.kind !== 'route') throw new Error('expected a route');
    d.response.onHeaders(200, new Map([['content-type', 'text/event-stream']]));
    d.response.onBody(Buffer.from('data: {"choices":[{"text":"a"}]}\n\ndata: {"choices":[{"text":"b"}]}\n\nda'));
    d.response.onBody(Buffer.from('ta: {"choices":[{"text":"c"}]}\n\n'));
    expect(lease.progress).toEqual([1, 2]);
    d.response.onEnd('complete');
  });
});

describe('StreamProgress', () => {
  it('counts SSE data events across chunk boundaries, once each', () => {
    const p = new StreamProgress();
    const text = 'data: {"a":1}\n\ndata: {"a":2}\n\ndata: {"a":3}\n\ndata: [DONE]\n\n';
    for (let i = 0; i < text.length; i += 3) p.onChunk(Buffer.from(text.slice(i, i + 3)));
    expect(p.outputTokens).toBe(3);
    const whole = new StreamProgress();
    whole.onChunk(Buffer.from(text));
    expect(whole.outputTokens).toBe(3);
  });
});
