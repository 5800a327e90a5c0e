// The OpenTelemetry SDK half of tracing.ts, imported only when spans are recorded: the tracer provider (parent-based
// ratio sampler, service.name resource) and the exporters' span processors.
import { type TextMapPropagator } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
// A dependency of sdk-trace-base; the only place that builds a Resource carrying service.name.
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { DEFAULT_OTLP_ENDPOINT, type TracingOptions } from './tracing.js';

function exporterProcessors(options: TracingOptions): SpanProcessor[] {
  switch (options.exporter) {
    case 'none':
      return [];
    case 'console':
      return [new SimpleSpanProcessor(new ConsoleSpanExporter())];
    case 'otlp':
      // Batched: exporting one span per request would put a network call on every request's path.
      return [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpEndpoint ?? DEFAULT_OTLP_ENDPOINT }))];
  }
}

/** Builds and registers the global provider (options already validated by startTracing). */
export function startTracerProvider(options: TracingOptions & { readonly sampleRatio: number }, propagator: TextMapPropagator): NodeTracerProvider {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
    spanProcessors: [...exporterProcessors(options), ...(options.spanProcessors ?? [])],
  });
  // Also installs the AsyncLocalStorage context manager, so context.with() carries the span across awaits.
  provider.register({ propagator });
  return provider;
}
