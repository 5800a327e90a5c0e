// Tracing continues the caller's W3C trace: spans started the way the request pipeline starts them carry the
// caller's trace id and name the caller's span as parent, and the upstream traceparent names Fairway's span.
import { type Context, ROOT_CONTEXT, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { type TracingHandle, startTracing } from '../../../src/observability/index.js';

const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const getter = {
  keys: (c: ReadonlyMap<string, string>) => [...c.keys()],
  get: (c: ReadonlyMap<string, string>, k: string) => c.get(k),
};
const setter = { set: (c: Map<string, string>, k: string, v: string) => void c.set(k, v) };

/** What RequestPipeline.handle does: extract, request span, a child span, inject into the upstream headers. */
function handleLikeThePipeline(headers: ReadonlyMap<string, string>): Map<string, string> {
  const tracer = trace.getTracer('fairway');
  const parent = propagation.extract(ROOT_CONTEXT, headers, getter);
  const span = tracer.startSpan('fairway.request', {}, parent);
  const ctx: Context = trace.setSpan(parent, span);
  tracer.startSpan('fairway.flow_control', {}, ctx).end();
  const upstream = new Map<string, string>();
  propagation.inject(ctx, upstream, setter);
  span.end();
  return upstream;
}

function byName(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

let handle: TracingHandle | undefined;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
});

describe('startTracing', () => {
  it("continues the caller's trace: same trace id, caller's span as parent, Fairway's span forwarded", async () => {
    const exporter = new InMemorySpanExporter();
    handle = await startTracing({ serviceName: 'fairway-test', exporter: 'none', spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const upstream = handleLikeThePipeline(new Map([['traceparent', `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`]]));

    const spans = exporter.getFinishedSpans();
    const request = byName(spans, 'fairway.request');
    expect(request.spanContext().traceId).toBe(CALLER_TRACE_ID);
    expect(request.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
    expect(request.parentSpanContext?.isRemote).toBe(true);
    expect(request.resource.attributes['service.name']).toBe('fairway-test');
    const queue = byName(spans, 'fairway.flow_control');
    expect(queue.spanContext().traceId).toBe(CALLER_TRACE_ID);
    expect(queue.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    // The model server's spans will hang under Fairway's request span.
    expect(upstream.get('traceparent')).toBe(`00-${CALLER_TRACE_ID}-${request.spanContext().spanId}-01`);
  });

  it("honours the caller's not-sampled flag (parent-based sampling) yet still forwards the trace", async () => {
    const exporter = new InMemorySpanExporter();
    handle = await startTracing({ serviceName: 'fairway-test', exporter: 'none', spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const upstream = handleLikeThePipeline(new Map([['traceparent', `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-00`]]));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(upstream.get('traceparent')).toMatch(new RegExp(`^00-${CALLER_TRACE_ID}-[0-9a-f]{16}-00$`));
  });

  it('starts a new root trace by the sample ratio when the caller sent none', async () => {
    const exporter = new InMemorySpanExporter();
    handle = await startTracing({ serviceName: 'fairway-test', exporter: 'none', sampleRatio: 0, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    handleLikeThePipeline(new Map());
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    // A sampled caller still wins over ratio 0.
    handleLikeThePipeline(new Map([['traceparent', `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`]]));
    expect(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).toEqual([CALLER_TRACE_ID, CALLER_TRACE_ID]);
  });

  it("with exporter 'none' and no processors, forwards the caller's traceparent unchanged", async () => {
    handle = await startTracing({ serviceName: 'fairway-test', exporter: 'none' });
    const traceparent = `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`;
    const upstream = handleLikeThePipeline(new Map([['traceparent', traceparent]]));
    expect(upstream.get('traceparent')).toBe(traceparent);
  });

  it('shutdown unregisters the globals, so tracing can be started again', async () => {
    handle = await startTracing({ serviceName: 'fairway-test', exporter: 'none' });
    await handle.shutdown();
    await handle.shutdown();
    const upstream = handleLikeThePipeline(new Map([['traceparent', `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`]]));
    expect(upstream.size).toBe(0);
    handle = await startTracing({ serviceName: 'fairway-test', exporter: 'none' });
    expect(handleLikeThePipeline(new Map([['traceparent', `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`]])).size).toBe(1);
  });

  it('rejects bad options with the field named', async () => {
    await expect(startTracing({ serviceName: '', exporter: 'none' })).rejects.toThrow(/serviceName/);
    await expect(startTracing({ serviceName: 's', exporter: 'none', sampleRatio: 1.5 })).rejects.toThrow(/sampleRatio/);
    await expect(startTracing({ serviceName: 's', exporter: 'jaeger' as 'none' })).rejects.toThrow(/exporter/);
  });
});
