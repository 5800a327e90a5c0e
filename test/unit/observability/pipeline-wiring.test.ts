// The adapters wired the way the composition root wires them: one FairwayMetrics observing a real FlowController
// and a real RequestPipeline, tracing on. One routed request and one bad one, checked end to end.
import { ROOT_CONTEXT, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { type EndpointSnapshot, InflightTracker, type PoolSnapshot } from '../../../src/datalayer/index.js';
import { FlowController } from '../../../src/flowcontrol/index.js';
import { HEADER_FAIRNESS_ID, HEADER_OBJECTIVE, type InferenceRequest, RequestPipeline } from '../../../src/gateway/index.js';
import { FAIRWAY_METRICS, FairwayMetrics, GO_METRICS, type TracingHandle, startTracing } from '../../../src/observability/index.js';
import { SettableSaturation } from '../../support/settable-saturation.js';
import { scrape, value } from './scrape.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

const endpoint: EndpointSnapshot = { id: '10.0.0.1:8000', host: '10.0.0.1', port: 8000, labels: {}, metrics: undefined, scrapedAt: undefined, stale: true };
const snapshot: PoolSnapshot = { version: 1, takenAt: 0, endpoints: [endpoint] };

function request(body: string, headers: [string, string][]): InferenceRequest {
  return {
    requestId: 'req-1',
    method: 'POST',
    path: '/v1/chat/completions',
    headers: new Map(headers),
    body: Buffer.from(body),
    signal: new AbortController().signal,
  };
}

function one(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

let tracing: TracingHandle | undefined;
afterEach(async () => {
  await tracing?.shutdown();
  tracing = undefined;
});

describe('FairwayMetrics + tracing on the real pipeline', () => {
  it('continues the trace through flow control and scheduling, and accounts the request', async () => {
    const exporter = new InMemorySpanExporter();
    tracing = await startTracing({ serviceName: 'fairway', exporter: 'none', spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const clock = new ManualClock(0);
    const registry = new Registry();
    const metrics = new FairwayMetrics(registry, { clock });
    const flowControl = new FlowController({ saturation: new SettableSaturation(0), clock, observer: metrics });
    metrics.bindFlowControl(() => flowControl.stats());
    const pipeline = new RequestPipeline({
      flowControl,
      scheduler: {
        schedule: () => ({ kind: 'scheduled', endpoints: [endpoint], scores: [1] }),
        recordRouting: () => {},
      },
      hasher: { hashBody: () => new Float64Array(0) },
      pool: { current: () => snapshot, subscribe: () => () => {} },
      inflight: new InflightTracker({ clock }),
      identity: { objectives: new Map([['chat', 5]]), mode: 'trusted', priorityCaps: new Map() },
      clock,
      observer: metrics,
    });

    const decision = await pipeline.handle(
      request('{"model":"llama","messages":[{"role":"user","content":"hi"}],"max_tokens":16}', [
        ['traceparent', `00-${TRACE_ID}-${CALLER_SPAN}-01`],
        [HEADER_FAIRNESS_ID, 'acme'],
        [HEADER_OBJECTIVE, 'chat'],
      ]),
    );
    expect(decision.kind).toBe('route');
    if (decision.kind !== 'route') return;
    clock.advance(2_000);
    decision.response.onHeaders(200, new Map([['content-type', 'application/json']]));
    decision.response.onBody(Buffer.from('{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42}}'));
    decision.response.onEnd('complete');

    const spans = exporter.getFinishedSpans();
    const root = one(spans, 'fairway.request');
    expect(root.spanContext().traceId).toBe(TRACE_ID);
    expect(root.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    for (const child of ['fairway.flow_control', 'fairway.schedule']) {
      expect(one(spans, child).parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    }
    // The traceparent sent to the model server continues the same trace, under Fairway's span.
    const forwarded = propagation.extract(ROOT_CONTEXT, decision.setHeaders, {
      keys: (c) => [...c.keys()],
      get: (c, k) => c.get(k),
    });
    expect(trace.getSpanContext(forwarded)?.traceId).toBe(TRACE_ID);
    expect(trace.getSpanContext(forwarded)?.spanId).toBe(root.spanContext().spanId);

    await pipeline.handle(request('not json', [[HEADER_FAIRNESS_ID, 'acme']]));

    const s = await scrape(registry);
    expect(value(s, `${GO_METRICS.queueDuration}_count`, { priority: '5', outcome: 'Dispatched' })).toBe(1);
    expect(value(s, GO_METRICS.requestTotal, { model_name: 'llama', objective: 'chat' })).toBe(1);
    expect(value(s, `${GO_METRICS.requestDuration}_sum`, { model_name: 'llama' })).toBe(2);
    expect(value(s, `${GO_METRICS.inputTokens}_sum`, { model_name: 'llama' })).toBe(12);
    expect(value(s, `${GO_METRICS.outputTokens}_sum`, { model_name: 'llama' })).toBe(30);
    expect(value(s, FAIRWAY_METRICS.tenantServedTokens, { fairness_id: 'acme' })).toBe(42);
    expect(value(s, FAIRWAY_METRICS.shedRequests, { reason: 'bad-request', status: '400', priority: '0' })).toBe(1);
    expect(value(s, FAIRWAY_METRICS.inflightRequests)).toBe(0);
  });
});
