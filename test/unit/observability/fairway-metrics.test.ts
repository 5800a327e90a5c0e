// FairwayMetrics: names and labels of the Go-compatible and Fairway metrics after feeding observer events, and
// gauges read from their sources at scrape time.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { type EndpointSnapshot, type PoolSnapshot, type PoolView } from '../../../src/datalayer/index.js';
import { type FlowControlStats } from '../../../src/flowcontrol/index.js';
import { type DecisionEvent, type ResponseEvent } from '../../../src/gateway/index.js';
import { FAIRWAY_METRICS, FairwayMetrics, GO_METRICS, type SaturationReadout } from '../../../src/observability/index.js';
import { samples, scrape, value } from './scrape.js';

const labels = { model: 'llama', targetModel: 'llama', objective: 'chat', fairnessId: 'acme', priority: 10 };

function decision(over: Partial<DecisionEvent> = {}): DecisionEvent {
  return { ...labels, result: 'routed', status: 200, queueMs: 5, scheduleMs: 0.3, endpoint: '10.0.0.1:8000', ...over };
}

function response(over: Partial<ResponseEvent> = {}): ResponseEvent {
  return { ...labels, status: 200, how: 'complete', durationMs: 1500, promptTokens: 100, outputTokens: 20, ...over };
}

function endpoint(id: string, kv: number, waiting: number, stale = false): EndpointSnapshot {
  const [host = '', port = '0'] = id.split(':');
  return {
    id,
    host,
    port: Number(port),
    labels: {},
    metrics: { waitingQueue: waiting, runningRequests: 0, kvCacheUsage: kv, loraRunning: [], loraWaiting: [], maxLora: 0 },
    scrapedAt: 0,
    stale,
  };
}

function poolOf(endpoints: EndpointSnapshot[]): PoolView & { set(e: EndpointSnapshot[]): void } {
  let snapshot: PoolSnapshot = { version: 1, takenAt: 0, endpoints };
  return {
    current: () => snapshot,
    subscribe: () => () => {},
    set(e) {
      snapshot = { version: snapshot.version + 1, takenAt: 0, endpoints: e };
    },
  };
}

describe('FairwayMetrics events', () => {
  it('records flow-control outcomes under the Go name with Go outcome values', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { poolName: 'pool-a' });
    m.onOutcome({ kind: 'dispatched', reason: undefined, priority: 10, fairnessId: 'acme', waitMs: 250 });
    m.onOutcome({ kind: 'dispatched', reason: undefined, priority: 10, fairnessId: 'beta', waitMs: 750 });
    m.onOutcome({ kind: 'rejected', reason: 'capacity', priority: 0, fairnessId: 'acme', waitMs: 0 });
    m.onOutcome({ kind: 'rejected', reason: 'flow-limit', priority: 0, fairnessId: 'acme', waitMs: 0 });
    m.onOutcome({ kind: 'rejected', reason: 'shutdown', priority: 0, fairnessId: 'acme', waitMs: 0 });
    m.onOutcome({ kind: 'evicted', reason: 'ttl', priority: -1, fairnessId: 'acme', waitMs: 30_000 });
    m.onOutcome({ kind: 'evicted', reason: 'cancelled', priority: -1, fairnessId: 'acme', waitMs: 10 });
    m.onOutcome({ kind: 'evicted', reason: 'displaced', priority: -1, fairnessId: 'acme', waitMs: 10 });
    const s = await scrape(registry);
    const count = `${GO_METRICS.queueDuration}_count`;
    const sum = `${GO_METRICS.queueDuration}_sum`;
    expect(value(s, count, { priority: '10', outcome: 'Dispatched', inference_pool: 'pool-a' })).toBe(2);
    expect(value(s, sum, { priority: '10', outcome: 'Dispatched' })).toBeCloseTo(1.0, 9);
    expect(value(s, count, { priority: '0', outcome: 'RejectedCapacity' })).toBe(2);
    expect(value(s, count, { priority: '0', outcome: 'RejectedOther' })).toBe(1);
    expect(value(s, sum, { priority: '-1', outcome: 'EvictedTTL' })).toBe(30);
    expect(value(s, count, { priority: '-1', outcome: 'EvictedContextCancelled' })).toBe(1);
    expect(value(s, count, { priority: '-1', outcome: 'EvictedOther' })).toBe(1);
    // The 0.25 s and 0.75 s waits fall in the 0.25 and 1.0 buckets (le is inclusive).
    expect(value(s, `${GO_METRICS.queueDuration}_bucket`, { priority: '10', outcome: 'Dispatched', le: '0.25' })).toBe(1);
    expect(value(s, `${GO_METRICS.queueDuration}_bucket`, { priority: '10', outcome: 'Dispatched', le: '1' })).toBe(2);
    // No fairness_id label: cardinality stays priorities x outcomes.
    for (const sample of samples(s, count)) expect(Object.keys(sample.labels).sort()).toEqual(['inference_pool', 'outcome', 'priority']);
  });

  it('records dispatch cycles in seconds', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry);
    m.onDispatchCycle(0.4, 3);
    m.onDispatchCycle(1.6, 0);
    const s = await scrape(registry);
    expect(value(s, `${GO_METRICS.dispatchCycleDuration}_count`)).toBe(2);
    expect(value(s, `${GO_METRICS.dispatchCycleDuration}_sum`)).toBeCloseTo(0.002, 12);
  });

  it('counts decisions per model and objective, sheds by reason/priority/status, and times scheduling', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry);
    m.onDecision(decision());
    m.onDecision(decision({ scheduleMs: 0.7 }));
    m.onDecision(decision({ result: 'capacity', status: 429, priority: 0, scheduleMs: 0 }));
    m.onDecision(decision({ result: 'capacity', status: 429, priority: 0, scheduleMs: 0 }));
    m.onDecision(decision({ result: 'no-endpoints', status: 503, scheduleMs: 0 }));
    m.onDecision(decision({ model: '', objective: '', result: 'bad-request', status: 400, scheduleMs: 0 }));
    const s = await scrape(registry);
    expect(value(s, GO_METRICS.requestTotal, { model_name: 'llama', target_model_name: 'llama', objective: 'chat' })).toBe(5);
    expect(value(s, GO_METRICS.requestTotal, { model_name: '', objective: '' })).toBe(1);
    expect(value(s, FAIRWAY_METRICS.shedRequests, { reason: 'capacity', priority: '0', status: '429' })).toBe(2);
    expect(value(s, FAIRWAY_METRICS.shedRequests, { reason: 'no-endpoints', priority: '10', status: '503' })).toBe(1);
    expect(value(s, FAIRWAY_METRICS.shedRequests, { reason: 'bad-request', priority: '10', status: '400' })).toBe(1);
    expect(samples(s, FAIRWAY_METRICS.shedRequests)).toHaveLength(3);
    // Only the two routed decisions picked an endpoint.
    expect(value(s, `${GO_METRICS.schedulerE2eDuration}_count`)).toBe(2);
    expect(value(s, `${GO_METRICS.schedulerE2eDuration}_sum`)).toBeCloseTo(0.001, 12);
  });

  it('labels requested and target model apart, and counts rewrite decisions under llm-d-router\'s name', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry);
    m.onDecision(decision({ targetModel: 'llama-v2', rewrite: 'canary' }));
    m.onDecision(decision({ targetModel: 'llama-v2', rewrite: 'canary', result: 'capacity', status: 429 }));
    m.onDecision(decision());
    m.onResponse(response({ targetModel: 'llama-v2' }));
    const s = await scrape(registry);
    expect(value(s, GO_METRICS.requestTotal, { model_name: 'llama', target_model_name: 'llama-v2' })).toBe(2);
    expect(value(s, GO_METRICS.requestTotal, { model_name: 'llama', target_model_name: 'llama' })).toBe(1);
    expect(value(s, GO_METRICS.modelRewriteDecisions, { model_rewrite_name: 'canary', model_name: 'llama', target_model: 'llama-v2' })).toBe(2);
    expect(samples(s, GO_METRICS.modelRewriteDecisions)).toHaveLength(1);
    expect(value(s, `${GO_METRICS.requestDuration}_count`, { model_name: 'llama', target_model_name: 'llama-v2' })).toBe(1);
  });

  it('records completed responses: duration and reported tokens; aborted ones and missing counts are skipped', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry);
    m.onResponse(response());
    m.onResponse(response({ durationMs: 500, promptTokens: undefined, outputTokens: 0 }));
    m.onResponse(response({ how: 'aborted', durationMs: 99_000 }));
    const s = await scrape(registry);
    const model = { model_name: 'llama', target_model_name: 'llama' };
    expect(value(s, `${GO_METRICS.requestDuration}_count`, model)).toBe(2);
    expect(value(s, `${GO_METRICS.requestDuration}_sum`, model)).toBe(2);
    expect(value(s, `${GO_METRICS.inputTokens}_count`, model)).toBe(1);
    expect(value(s, `${GO_METRICS.inputTokens}_sum`, model)).toBe(100);
    expect(value(s, `${GO_METRICS.outputTokens}_count`, model)).toBe(1);
    expect(value(s, `${GO_METRICS.outputTokens}_sum`, model)).toBe(20);
  });

  it('counts served tokens per tenant from releases: the actual usage, else the estimate', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry);
    m.onRelease(0, 'acme', 500, 120);
    m.onRelease(0, 'acme', 500, undefined);
    m.onRelease(0, 'beta', 300, 0);
    const s = await scrape(registry);
    expect(value(s, FAIRWAY_METRICS.tenantServedTokens, { fairness_id: 'acme' })).toBe(620);
    // Zero actual tokens served nothing: no series.
    expect(samples(s, FAIRWAY_METRICS.tenantServedTokens, { fairness_id: 'beta' })).toHaveLength(0);
  });

  it('counts in-flight evictions by the victim band, reason and the band made room for; declines apart', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry);
    const base = { reason: 'preempted' as const, fairnessId: 'batch', progress: 0, ranMs: 10 };
    m.onInflightEviction({ ...base, outcome: 'evicted', priority: -1, forPriority: 1 });
    m.onInflightEviction({ ...base, outcome: 'evicted', priority: -1, forPriority: 1 });
    m.onInflightEviction({ ...base, outcome: 'evicted', priority: -2, forPriority: 0 });
    m.onInflightEviction({ ...base, outcome: 'declined', priority: -1, forPriority: 1 });
    const s = await scrape(registry);
    expect(value(s, FAIRWAY_METRICS.inflightEvictions, { priority: '-1', reason: 'preempted', for_priority: '1' })).toBe(2);
    expect(value(s, FAIRWAY_METRICS.inflightEvictions, { priority: '-2', reason: 'preempted', for_priority: '0' })).toBe(1);
    expect(value(s, FAIRWAY_METRICS.inflightEvictionsDeclined, { priority: '-1', reason: 'preempted' })).toBe(1);
  });

  it('bounds model and objective label values taken from client input', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { maxModelLabels: 2 });
    for (let i = 0; i < 50; i++) m.onDecision(decision({ model: `m${i}`, objective: `o${i}` }));
    const s = await scrape(registry);
    expect(samples(s, GO_METRICS.requestTotal)).toHaveLength(3);
    expect(value(s, GO_METRICS.requestTotal, { model_name: '__other__', objective: '__other__' })).toBe(48);
  });

  it('prepends the prefix to every name', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { prefix: 'llm_d_' });
    m.onDecision(decision());
    const s = await scrape(registry);
    expect(value(s, `llm_d_${GO_METRICS.requestTotal}`, { model_name: 'llama' })).toBe(1);
    expect(samples(s, GO_METRICS.requestTotal)).toHaveLength(0);
  });

  it('registers on the injected registry only', async () => {
    const { register: globalRegistry } = await import('prom-client');
    const before = (await globalRegistry.getMetricsAsJSON()).length;
    new FairwayMetrics(new Registry());
    expect((await globalRegistry.getMetricsAsJSON()).length).toBe(before);
  });
});

describe('FairwayMetrics scrape-time gauges', () => {
  it('reads flow-control stats at each scrape', async () => {
    const registry = new Registry();
    const clock = new ManualClock(10_000);
    const m = new FairwayMetrics(registry, { poolName: 'p', clock });
    let stats: FlowControlStats = {
      queuedRequests: 7,
      queuedBytes: 7000,
      inflight: 3,
      liveFlows: 4,
      evictableInflight: 2,
      evictionsOutstanding: 0,
      heldAtCaps: 6,
      bands: [
        { priority: 10, name: 'high', queuedRequests: 5, queuedBytes: 5000, flows: 3, ceiling: 8, oldestEnqueuedAt: 7_500 },
        { priority: 0, name: 'low', queuedRequests: 2, queuedBytes: 2000, flows: 1, ceiling: 2, oldestEnqueuedAt: undefined },
      ],
    };
    m.bindFlowControl(() => stats);
    let s = await scrape(registry);
    expect(value(s, GO_METRICS.queueSize, { priority: '10', inference_pool: 'p' })).toBe(5);
    expect(value(s, GO_METRICS.queueSize, { priority: '0' })).toBe(2);
    expect(value(s, GO_METRICS.queueBytes, { priority: '10' })).toBe(5000);
    expect(value(s, FAIRWAY_METRICS.bandFlows, { priority: '10', band: 'high' })).toBe(3);
    expect(value(s, FAIRWAY_METRICS.bandCeiling, { priority: '0', band: 'low' })).toBe(2);
    expect(value(s, FAIRWAY_METRICS.inflightRequests)).toBe(3);
    expect(value(s, FAIRWAY_METRICS.liveFlows)).toBe(4);
    expect(value(s, FAIRWAY_METRICS.evictableInflight)).toBe(2);
    expect(value(s, FAIRWAY_METRICS.heldAtCaps)).toBe(6);
    expect(value(s, FAIRWAY_METRICS.bandOldestWait, { priority: '10', band: 'high' })).toBe(2.5);
    expect(value(s, FAIRWAY_METRICS.bandOldestWait, { priority: '0', band: 'low' })).toBe(0);

    // The source changes between scrapes: the next scrape shows the new figures, and a vanished band vanishes.
    stats = {
      queuedRequests: 1,
      queuedBytes: 10,
      inflight: 9,
      liveFlows: 1,
      evictableInflight: 0,
      evictionsOutstanding: 0,
      heldAtCaps: 0,
      bands: [{ priority: 10, name: 'high', queuedRequests: 1, queuedBytes: 10, flows: 1, ceiling: 8, oldestEnqueuedAt: undefined }],
    };
    s = await scrape(registry);
    expect(value(s, GO_METRICS.queueSize, { priority: '10' })).toBe(1);
    expect(samples(s, GO_METRICS.queueSize, { priority: '0' })).toHaveLength(0);
    expect(value(s, FAIRWAY_METRICS.inflightRequests)).toBe(9);
    expect(value(s, FAIRWAY_METRICS.liveFlows)).toBe(1);
    expect(value(s, FAIRWAY_METRICS.evictableInflight)).toBe(0);
    expect(() => m.bindFlowControl(() => stats)).toThrow(/twice/);
  });

  it('reads saturation detectors at each scrape; the first bound is the pool figure', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { poolName: 'p' });
    let primary = { saturation: 0.5, staleEndpoints: 1, endpoints: new Map([['a:1', 0.2], ['b:1', 1]]) };
    const utilization: SaturationReadout = { name: 'utilization', details: () => primary };
    const concurrency: SaturationReadout = {
      name: 'concurrency',
      details: () => ({ saturation: 0.9, staleEndpoints: 0, endpoints: new Map() }),
    };
    m.bindSaturation(utilization);
    m.bindSaturation(concurrency);
    let s = await scrape(registry);
    expect(value(s, GO_METRICS.poolSaturation, { inference_pool: 'p' })).toBe(0.5);
    expect(value(s, FAIRWAY_METRICS.saturation, { detector: 'utilization' })).toBe(0.5);
    expect(value(s, FAIRWAY_METRICS.saturation, { detector: 'concurrency' })).toBe(0.9);
    expect(value(s, FAIRWAY_METRICS.staleEndpoints)).toBe(1);
    expect(value(s, FAIRWAY_METRICS.endpointSaturation, { endpoint: 'a:1' })).toBe(0.2);
    expect(value(s, FAIRWAY_METRICS.endpointSaturation, { endpoint: 'b:1' })).toBe(1);

    primary = { saturation: 1.2, staleEndpoints: 0, endpoints: new Map([['a:1', 1.2]]) };
    s = await scrape(registry);
    expect(value(s, GO_METRICS.poolSaturation)).toBe(1.2);
    expect(value(s, FAIRWAY_METRICS.staleEndpoints)).toBe(0);
    expect(samples(s, FAIRWAY_METRICS.endpointSaturation)).toHaveLength(1);
    expect(() => m.bindSaturation(concurrency)).toThrow(/already bound/);
  });

  it('reads the pool at each scrape: averages over fresh endpoints, ready endpoints (stale ones not), all endpoints', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { poolName: 'p' });
    const pool = poolOf([endpoint('a:1', 0.2, 2), endpoint('b:1', 0.6, 6), endpoint('c:1', 1, 100, true)]);
    m.bindPool(pool);
    let s = await scrape(registry);
    expect(value(s, GO_METRICS.poolAvgKvCache, { name: 'p' })).toBeCloseTo(0.4, 12);
    expect(value(s, GO_METRICS.poolAvgQueueSize, { name: 'p' })).toBe(4);
    // c:1 is stale (a dead pod whose scrapes fail): in the pool, but it cannot take work.
    expect(value(s, GO_METRICS.poolReadyPods, { name: 'p' })).toBe(2);
    expect(value(s, FAIRWAY_METRICS.poolEndpoints, { name: 'p' })).toBe(3);

    pool.set([endpoint('a:1', 0.9, 1, true)]);
    s = await scrape(registry);
    // No endpoint with fresh metrics: no average sample rather than a made-up 0.
    expect(samples(s, GO_METRICS.poolAvgKvCache)).toHaveLength(0);
    expect(value(s, GO_METRICS.poolReadyPods)).toBe(0);
    expect(value(s, FAIRWAY_METRICS.poolEndpoints)).toBe(1);
  });

  it('a failing source is logged and the rest of the scrape still succeeds', async () => {
    const registry = new Registry();
    const warnings: object[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (o: object) => warnings.push(o), error: () => {}, child: () => logger };
    const m = new FairwayMetrics(registry, { logger });
    m.bindSaturation({ name: 'broken', details: () => { throw new Error('boom'); } });
    m.onDispatchCycle(1, 1);
    const s = await scrape(registry);
    expect(value(s, `${GO_METRICS.dispatchCycleDuration}_count`)).toBe(1);
    expect(samples(s, FAIRWAY_METRICS.saturation)).toHaveLength(0);
    expect(warnings.length).toBeGreaterThan(0);
  });

  it('exposes the text format Prometheus scrapes', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { clock: new ManualClock(0) });
    m.onOutcome({ kind: 'rejected', reason: 'capacity', priority: 0, fairnessId: 'acme', waitMs: 0 });
    const text = await registry.metrics();
    expect(text).toContain(`# TYPE ${GO_METRICS.queueDuration} histogram`);
    expect(text).toContain(`${GO_METRICS.queueDuration}_count{priority="0",outcome="RejectedCapacity",inference_pool="default"} 1`);
  });
});
