import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { InflightTracker } from '../../../src/datalayer/index.js';
import { FlowController } from '../../../src/flowcontrol/index.js';
import {
  type ConnectFailureEvent,
  type Decision,
  type DecisionEvent,
  type GatewayObserver,
  type InferenceRequest,
  type RefusedEvent,
  RequestPipeline,
  type ServedEvent,
} from '../../../src/gateway/index.js';
import { Scheduler, createPrefixHasher } from '../../../src/scheduler/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { SettableSaturation } from '../../support/settable-saturation.js';
import { StaticPool, endpoint } from '../../support/static-pool.js';

interface SchedulerFaults {
  throwOnSchedule?: boolean;
  throwOnRecord?: boolean;
}

async function setup(
  opts: {
    mode?: 'trusted' | 'strip';
    maxQueued?: number;
    saturation?: number;
    endpoints?: number;
    faults?: SchedulerFaults;
    fallbackEndpoints?: number;
    observer?: GatewayObserver;
  } = {},
) {
  const clock = new ManualClock();
  const saturation = new SettableSaturation(opts.saturation ?? 0);
  const pool = new StaticPool(
    Array.from({ length: opts.endpoints ?? 3 }, (_, i) => endpoint('10.0.0.1', 8000 + i, { waitingQueue: i === 1 ? 0 : 4, kvCacheUsage: 0.1 })),
  );
  const fc = new FlowController({ saturation, clock, maxQueuedRequests: opts.maxQueued ?? 100 });
  const inflight = new InflightTracker({ clock });
  const priorities: number[] = [];
  const costs: number[] = [];
  const flowControl = {
    enqueueAndWait: (r: Parameters<FlowController['enqueueAndWait']>[0], o: Parameters<FlowController['enqueueAndWait']>[1]) => {
      priorities.push(r.priority);
      costs.push(r.estimatedCost);
      return fc.enqueueAndWait(r, o);
    },
  };
  const real = new Scheduler();
  const faults = opts.faults ?? {};
  const scheduler = {
    schedule: (...args: Parameters<Scheduler['schedule']>) => {
      if (faults.throwOnSchedule === true) throw new Error('scheduler exploded');
      return real.schedule(...args);
    },
    recordRouting: (...args: Parameters<Scheduler['recordRouting']>) => {
      if (faults.throwOnRecord === true) throw new Error('prefix index exploded');
      return real.recordRouting(...args);
    },
    forgetRouting: (...args: Parameters<Scheduler['forgetRouting']>) => real.forgetRouting(...args),
  };
  const hasher = await createPrefixHasher();
  const pipeline = new RequestPipeline({
    flowControl,
    scheduler,
    hasher,
    ...(opts.fallbackEndpoints === undefined ? {} : { fallbackEndpoints: opts.fallbackEndpoints }),
    ...(opts.observer === undefined ? {} : { observer: opts.observer }),
    pool,
    inflight,
    clock,
    identity: {
      objectives: new Map([['interactive', 10], ['batch', -1]]),
      mode: opts.mode ?? 'trusted',
      tenantHeader: 'x-auth-user',
      priorityCaps: new Map([['capped', 0]]),
    },
  });
  return { pipeline, fc, saturation, pool, inflight, priorities, costs, clock, scheduler: real, hasher };
}

function request(body: unknown, headers: Record<string, string> = {}, extra: Partial<InferenceRequest> = {}): InferenceRequest {
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

const completion = { model: 'm', prompt: 'Hello there, how are you today?', max_tokens: 16 };

function reject(d: Decision) {
  if (d.kind !== 'reject') throw new Error(`expected a rejection, got a route to ${d.endpoints.join(',')}`);
  return d;
}

describe('RequestPipeline', () => {
  it('routes to the endpoint the scheduler prefers and forwards the body bytes unchanged', async () => {
    const { pipeline } = await setup();
    const req = request(completion);
    const d = await pipeline.handle(req);
    expect(d.kind).toBe('route');
    if (d.kind === 'route') {
      expect(d.endpoints).toEqual(['10.0.0.1:8001']);
      expect(d.body).toBe(req.body);
    }
  });

  it('names one endpoint unless configured with fallbacks or asked for candidates by the front end, best first', async () => {
    const one = await setup();
    const d1 = await one.pipeline.handle(request(completion));
    expect(d1.kind === 'route' && d1.endpoints).toEqual(['10.0.0.1:8001']);
    const configured = await setup({ fallbackEndpoints: 1 });
    const d2 = await configured.pipeline.handle(request(completion));
    expect(d2.kind === 'route' && d2.endpoints.length).toBe(2);
    expect(d2.kind === 'route' && d2.endpoints[0]).toBe('10.0.0.1:8001');
    const asked = await setup();
    const d3 = await asked.pipeline.handle(request(completion, {}, { endpointCount: 3 }));
    expect(d3.kind === 'route' && new Set(d3.endpoints).size).toBe(3);
    expect(d3.kind === 'route' && d3.endpoints[0]).toBe('10.0.0.1:8001');
    // Only the primary is counted in flight, whatever the number of candidates.
    expect(asked.inflight.load('10.0.0.1:8001').requests).toBe(1);
    expect(asked.inflight.totalRequests()).toBe(1);
  });

  it('reports failed connections to its observer; in-flight count and prompt prefix move to the endpoint that served', async () => {
    const failures: ConnectFailureEvent[] = [];
    const served: ServedEvent[] = [];
    const observer: GatewayObserver = { onDecision: () => {}, onResponse: () => {}, onConnectFailure: (e) => failures.push(e), onServed: (e) => served.push(e) };
    const { pipeline, scheduler, hasher, inflight } = await setup({ observer });
    const body = { ...completion, prompt: 'a long shared system prompt '.repeat(20) };
    const d = await pipeline.handle(request(body, {}, { endpointCount: 2 }));
    if (d.kind !== 'route') throw new Error('expected a route');
    const [primary, fallback] = d.endpoints as [string, string];
    const hashes = hasher.hashBody(body, body.model);
    expect(scheduler.prefixIndex.matchLength(hashes, fallback)).toBe(0);
    expect(scheduler.prefixIndex.matchLength(hashes, primary)).toBe(hashes.length);
    expect(inflight.load(primary).requests).toBe(1);
    d.response.onConnectFailed?.(primary, true);
    d.response.onServedEndpoint?.(fallback);
    d.response.onServedEndpoint?.(fallback); // reported twice (several response messages): moved once
    expect(failures).toEqual([{ endpoint: primary, retried: true }]);
    expect(served).toEqual([
      { endpoint: fallback, fallback: true },
      { endpoint: fallback, fallback: true },
    ]);
    expect(scheduler.prefixIndex.matchLength(hashes, fallback)).toBe(hashes.length);
    // The primary never saw the prompt: what this request recorded there is taken back.
    expect(scheduler.prefixIndex.matchLength(hashes, primary)).toBe(0);
    expect(inflight.load(primary).requests).toBe(0);
    expect(inflight.load(fallback)).toMatchObject({ requests: 1, requestsSinceScrape: 1 });
    d.response.onEnd('complete');
    expect(inflight.totalRequests()).toBe(0);
  });

  it('keeps the prefix blocks the primary held before the request when a fallback serves it', async () => {
    const { pipeline, scheduler, hasher } = await setup();
    const shared = 'a long shared system prompt '.repeat(20);
    const first = { ...completion, prompt: shared };
    const d1 = await pipeline.handle(request(first));
    if (d1.kind !== 'route') throw new Error('expected a route');
    const primary = d1.endpoints[0] as string;
    d1.response.onEnd('complete');
    const second = { ...completion, prompt: `${shared} and then a different question about something else entirely` };
    const d2 = await pipeline.handle(request(second, {}, { endpointCount: 2 }));
    if (d2.kind !== 'route') throw new Error('expected a route');
    expect(d2.endpoints[0]).toBe(primary); // the prefix follows its endpoint
    const held = scheduler.prefixIndex.matchLength(hasher.hashBody(first, first.model), primary);
    const hashes = hasher.hashBody(second, second.model);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(hashes.length);
    d2.response.onServedEndpoint?.(d2.endpoints[1] as string);
    expect(scheduler.prefixIndex.matchLength(hashes, primary)).toBe(held);
    d2.response.onEnd('complete');
  });

  it('answers 400 with a drop reason for invalid JSON and for a missing model', async () => {
    const { pipeline } = await setup();
    const bad = reject(await pipeline.handle(request('{not json')));
    expect(bad).toMatchObject({ status: 400, reason: 'bad-request' });
    expect(bad.message).toMatch(/not valid JSON/);
    const missing = reject(await pipeline.handle(request({ prompt: 'x' })));
    expect(missing.status).toBe(400);
    expect(missing.message).toMatch(/"model"/);
  });

  it('answers 400 bad-header naming a malformed control header, before queueing', async () => {
    const { pipeline, priorities } = await setup();
    for (const [name, value] of [
      ['x-fairway-request-ttl-ms', 'abc'],
      ['x-fairway-request-ttl-ms', '-1'],
      ['x-fairway-ttft-slo-ms', '1e400'],
    ] as const) {
      const d = reject(await pipeline.handle(request(completion, { [name]: value })));
      expect(d).toMatchObject({ status: 400, reason: 'bad-header' });
      expect(d.message).toContain(name);
    }
    expect(priorities).toEqual([]);
    const ok = await pipeline.handle(request(completion, { 'x-fairway-request-ttl-ms': '', 'x-fairway-ttft-slo-ms': '800' }));
    expect(ok.kind).toBe('route');
  });

  it('maps objectives to priorities, unknown ones to 0, and clamps capped tenants', async () => {
    const { pipeline, priorities } = await setup();
    await pipeline.handle(request(completion, { 'x-gateway-inference-objective': 'interactive' }));
    await pipeline.handle(request(completion, { 'x-gateway-inference-objective': 'no-such-objective' }));
    await pipeline.handle(request(completion, { 'x-gateway-inference-objective': 'batch' }));
    await pipeline.handle(request(completion, { 'x-gateway-inference-objective': 'interactive', 'x-gateway-inference-fairness-id': 'capped' }));
    expect(priorities).toEqual([10, 0, -1, 0]);
  });

  it('in strip mode ignores client priority claims and takes the tenant from the authenticated header', async () => {
    const { pipeline, priorities, fc } = await setup({ mode: 'strip', saturation: 1 });
    void pipeline.handle(request(completion, { 'x-gateway-inference-objective': 'interactive', 'x-auth-user': 'alice', 'x-gateway-inference-fairness-id': 'mallory' }));
    await flushMicrotasks();
    expect(priorities).toEqual([0]);
    expect(fc.stats().bands[0]?.flows).toBe(1);
    await fc.close();
  });

  it('answers 503 no-endpoints with Retry-After when the pool is empty, without queueing', async () => {
    const { pipeline, priorities } = await setup({ endpoints: 0 });
    const d = reject(await pipeline.handle(request(completion)));
    expect(d).toMatchObject({ status: 503, reason: 'no-endpoints' });
    expect(d.retryAfterSeconds).toBeGreaterThan(0);
    expect(priorities).toEqual([]);
  });

  it('answers 503 empty-subset when no hinted endpoint is in the pool, and honours a matching hint', async () => {
    const { pipeline } = await setup();
    expect(reject(await pipeline.handle(request(completion, {}, { subsetHint: [] }))).reason).toBe('empty-subset');
    expect(reject(await pipeline.handle(request(completion, {}, { subsetHint: ['10.9.9.9:1'] }))).status).toBe(503);
    const d = await pipeline.handle(request(completion, {}, { subsetHint: ['10.0.0.1:8002'] }));
    expect(d.kind === 'route' && d.endpoints).toEqual(['10.0.0.1:8002']);
  });

  it('answers 429 capacity with Retry-After when flow control is full', async () => {
    const { pipeline, fc } = await setup({ maxQueued: 1, saturation: 1 });
    void pipeline.handle(request(completion));
    await flushMicrotasks();
    const d = reject(await pipeline.handle(request(completion)));
    expect(d).toMatchObject({ status: 429, reason: 'capacity' });
    expect(d.retryAfterSeconds).toBeGreaterThan(0);
    await fc.close();
  });

  it('answers 429 ttl when a request expires in the queue while endpoints exist', async () => {
    const { pipeline, clock } = await setup({ saturation: 1 });
    const p = pipeline.handle(request(completion, { 'x-fairway-request-ttl-ms': '500' }));
    await flushMicrotasks();
    clock.advance(500);
    expect(reject(await p)).toMatchObject({ status: 429, reason: 'ttl' });
  });

  it('drops a request whose client goes away while queued, leaving nothing queued', async () => {
    const { pipeline, fc } = await setup({ saturation: 1 });
    const ac = new AbortController();
    const p = pipeline.handle(request(completion, {}, { signal: ac.signal }));
    await flushMicrotasks();
    expect(fc.stats().queuedRequests).toBe(1);
    ac.abort();
    expect(reject(await p)).toMatchObject({ status: 499, reason: 'cancelled' });
    expect(fc.stats().queuedRequests).toBe(0);
  });

  it('clamps the estimated cost, so max_tokens 1e308 cannot swamp the fairness counters', async () => {
    const { pipeline, costs } = await setup();
    const d = await pipeline.handle(request({ ...completion, max_tokens: 1e308 }));
    expect(d.kind).toBe('route');
    expect(costs[0]).toBeLessThanOrEqual(1_000_000);
    expect(costs[0]).toBeGreaterThan(0);
  });

  it('gives the lease and the in-flight ticket back when scheduling throws, answering 500 counted once as a refusal', async () => {
    const refused: RefusedEvent[] = [];
    const decisions: DecisionEvent[] = [];
    const observer: GatewayObserver = { onDecision: (e) => decisions.push(e), onResponse: () => {}, onRefused: (e) => refused.push(e) };
    const { pipeline, inflight, fc } = await setup({ faults: { throwOnSchedule: true }, observer });
    const d = reject(await pipeline.handle(request(completion)));
    expect(d).toMatchObject({ status: 500, reason: 'internal' });
    expect(refused).toEqual([{ reason: 'internal', status: 500 }]);
    expect(decisions).toEqual([]);
    expect(fc.stats().inflight).toBe(0);
    expect(inflight.totalRequests()).toBe(0);
  });

  it('counts a request once when an observer throws after its decision was reported (no second count as a 500 refusal)', async () => {
    const refused: RefusedEvent[] = [];
    const decisions: DecisionEvent[] = [];
    const observer: GatewayObserver = {
      onDecision: (e) => {
        decisions.push(e);
        throw new Error('status recorder exploded');
      },
      onResponse: () => {},
      onRefused: (e) => refused.push(e),
    };
    const { pipeline } = await setup({ observer });
    const d = reject(await pipeline.handle(request(completion)));
    expect(d).toMatchObject({ status: 500, reason: 'internal' });
    expect(decisions.map((e) => e.result)).toEqual(['routed']);
    expect(refused).toEqual([]);
  });

  it('still routes when recording the prefix routing throws, and releases everything when the response ends', async () => {
    const { pipeline, inflight, fc } = await setup({ faults: { throwOnRecord: true } });
    const d = await pipeline.handle(request({ ...completion, prompt: 'x'.repeat(500) }));
    if (d.kind !== 'route') throw new Error('expected a route');
    expect(inflight.totalRequests()).toBe(1);
    d.response.onEnd('aborted');
    expect(inflight.totalRequests()).toBe(0);
    expect(fc.stats().inflight).toBe(0);
  });

  it('counts the request in flight until the response ends, then releases it with the usage it reported', async () => {
    const { pipeline, inflight, fc } = await setup();
    const d = await pipeline.handle(request(completion));
    if (d.kind !== 'route') throw new Error('expected a route');
    expect(inflight.totalRequests()).toBe(1);
    expect(fc.stats().inflight).toBe(1);
    d.response.onHeaders(200, new Map([['content-type', 'text/event-stream']]));
    d.response.onBody(Buffer.from('data: {"choices":[{"text":"hi"}]}\n\n'));
    d.response.onBody(Buffer.from('data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":16}}\n\ndata: [DONE]\n\n'));
    d.response.onEnd('complete');
    d.response.onEnd('complete');
    expect(inflight.totalRequests()).toBe(0);
    expect(fc.stats().inflight).toBe(0);
  });

  it("counts a stream's prompt as unstarted on its endpoint until the first response byte, a plain request's not at all", async () => {
    const { pipeline, inflight } = await setup();
    const streamed = routed(await pipeline.handle(request({ ...completion, stream: true })));
    const endpointId = streamed.endpoints[0] ?? '';
    const prompt = Math.ceil(JSON.stringify({ ...completion, stream: true }).length / 4);
    expect(inflight.load(endpointId).unstartedTokens).toBe(prompt);
    streamed.response.onHeaders(200, new Map([['content-type', 'text/event-stream']]));
    expect(inflight.load(endpointId).unstartedTokens).toBe(prompt); // headers come before the first token
    streamed.response.onBody(Buffer.from('data: {"choices":[{"text":"hi"}]}\n\n'));
    expect(inflight.load(endpointId).unstartedTokens).toBe(0);
    const plain = routed(await pipeline.handle(request(completion, {}, { requestId: 'req-2' })));
    expect(inflight.load(plain.endpoints[0] ?? '').unstartedTokens ?? 0).toBe(0);
    // Ended before any byte (an error, an eviction): released by the end, and only once.
    const broken = routed(await pipeline.handle(request({ ...completion, stream: true }, {}, { requestId: 'req-3' })));
    expect(inflight.load(broken.endpoints[0] ?? '').unstartedTokens).toBeGreaterThan(0);
    broken.response.onEnd('aborted');
    broken.response.onBody(Buffer.from('late'));
    expect(inflight.load(broken.endpoints[0] ?? '').unstartedTokens ?? 0).toBe(0);
    streamed.response.onEnd('complete');
    plain.response.onEnd('complete');
    expect(inflight.totalRequests()).toBe(0);
  });

  it('takes the response headers as the first token when no body passes through (ext_proc response_body_mode NONE)', async () => {
    const { pipeline, inflight } = await setup();
    const d = routed(await pipeline.handle(request({ ...completion, stream: true })));
    const endpointId = d.endpoints[0] ?? '';
    expect(inflight.load(endpointId).unstartedTokens).toBeGreaterThan(0);
    d.response.onHeaders(200, new Map());
    d.response.onResponseStarted?.();
    expect(inflight.load(endpointId).unstartedTokens).toBe(0);
    d.response.onEnd('complete');
    expect(inflight.totalRequests()).toBe(0);
  });
});

function routed(d: Decision): Decision & { kind: 'route' } {
  if (d.kind !== 'route') throw new Error(`expected a route, got ${d.status} ${d.reason}`);
  return d;
}
