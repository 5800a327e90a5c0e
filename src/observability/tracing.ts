// OpenTelemetry tracing: a NodeTracerProvider with a parent-based ratio sampler and the W3C trace-context propagator,
// so Fairway continues the caller's `traceparent` and forwards it upstream (the Go EPP starts a new trace).
import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
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
import { InvalidArgumentError, requireNonEmptyString } from '../core/index.js';

export const TRACE_EXPORTERS = ['none', 'console', 'otlp'] as const;
export type TraceExporterKind = (typeof TRACE_EXPORTERS)[number];
/** Share of new traces (no sampled parent) recorded; a caller's sampling decision always wins. */
export const DEFAULT_SAMPLE_RATIO = 1;
/** The OTLP/HTTP collector's conventional traces endpoint. */
export const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318/v1/traces';

export interface TracingOptions {
  /** `service.name` of every span. */
  readonly serviceName: string;
  /**
   * `none`: no spans are recorded (unless `spanProcessors` are given) but the propagator is registered, so the
   * caller's `traceparent` is forwarded upstream unchanged. `console`: spans printed as they end. `otlp`: spans
   * batched to an OTLP/HTTP collector.
   */
  readonly exporter: TraceExporterKind;
  /** @default DEFAULT_OTLP_ENDPOINT */
  readonly otlpEndpoint?: string;
  /** In [0, 1]. @default 1 */
  readonly sampleRatio?: number;
  /** Extra processors (tests, custom exporters), added after the exporter's. */
  readonly spanProcessors?: readonly SpanProcessor[];
}

export interface TracingHandle {
  /** Flushes pending spans, stops exporting and unregisters the global provider and propagator. Idempotent. */
  shutdown(): Promise<void>;
}

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

/** Registers tracing globally for the process (the pipeline uses `@opentelemetry/api`'s globals). Call once. */
export function startTracing(options: TracingOptions): TracingHandle {
  const serviceName = requireNonEmptyString('serviceName', options.serviceName);
  if (!(TRACE_EXPORTERS as readonly string[]).includes(options.exporter)) {
    throw new InvalidArgumentError('exporter', options.exporter, `one of ${TRACE_EXPORTERS.join(', ')}`);
  }
  const ratio = options.sampleRatio ?? DEFAULT_SAMPLE_RATIO;
  if (!(ratio >= 0 && ratio <= 1)) throw new InvalidArgumentError('sampleRatio', ratio, 'a number in [0, 1]');

  const propagator = new W3CTraceContextPropagator();
  const processors = [...exporterProcessors(options), ...(options.spanProcessors ?? [])];
  let stopped = false;

  if (processors.length === 0) {
    // Nothing would ever be exported: skip the SDK. The API's no-op tracer then hands the extracted parent through
    // as the "current span", so inject() forwards the caller's traceparent as it came.
    propagation.setGlobalPropagator(propagator);
    return {
      shutdown: async () => {
        if (stopped) return;
        stopped = true;
        propagation.disable();
      },
    };
  }

  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
    spanProcessors: processors,
  });
  // Also installs the AsyncLocalStorage context manager, so context.with() carries the span across awaits.
  provider.register({ propagator });
  return {
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        propagation.disable();
        context.disable();
      }
    },
  };
}
