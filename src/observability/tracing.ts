// OpenTelemetry tracing: a NodeTracerProvider with a parent-based ratio sampler and the W3C trace-context propagator,
// so Fairway continues the caller's `traceparent` and forwards it upstream (the Go EPP starts a new trace). The SDK
// (tracing-sdk.ts: provider, exporters, about 2 MB of heap and a few hundred ms of start-up) is loaded only when spans
// are recorded; with `exporter: none` the propagator alone forwards the caller's trace.
import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
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

/**
 * Registers tracing globally for the process (the pipeline uses `@opentelemetry/api`'s globals). Call once. Async:
 * the SDK is imported on demand.
 */
export async function startTracing(options: TracingOptions): Promise<TracingHandle> {
  const serviceName = requireNonEmptyString('serviceName', options.serviceName);
  if (!(TRACE_EXPORTERS as readonly string[]).includes(options.exporter)) {
    throw new InvalidArgumentError('exporter', options.exporter, `one of ${TRACE_EXPORTERS.join(', ')}`);
  }
  const ratio = options.sampleRatio ?? DEFAULT_SAMPLE_RATIO;
  if (!(ratio >= 0 && ratio <= 1)) throw new InvalidArgumentError('sampleRatio', ratio, 'a number in [0, 1]');

  const propagator = new W3CTraceContextPropagator();
  let stopped = false;

  if (options.exporter === 'none' && (options.spanProcessors ?? []).length === 0) {
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

  const { startTracerProvider } = await import('./tracing-sdk.js');
  const provider = startTracerProvider({ ...options, serviceName, sampleRatio: ratio }, propagator);
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
