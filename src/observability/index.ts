// Public surface of src/observability: Prometheus metrics, OpenTelemetry tracing and pino logging adapters.
export {
  FairwayMetrics,
  type FairwayMetricsOptions,
  type TenantServiceReadout,
  DEFAULT_METRIC_PREFIX,
  DEFAULT_POOL_NAME,
  DEFAULT_MAX_TENANT_LABELS,
  DEFAULT_MAX_MODEL_LABELS,
  REFUSED_PRIORITY,
} from './fairway-metrics.js';
export { type SaturationReadout } from './saturation-gauges.js';
export { GO_METRICS, FAIRWAY_METRICS, BUCKETS } from './metric-names.js';
export { type GoQueueOutcome, goQueueOutcome } from './go-outcome.js';
export { OVERFLOW_LABEL } from './bounded-label.js';
export { jainIndex } from './jain-index.js';
export { type WorkerMetrics, ADDITIVE_GAUGES, WORKER_LABEL, mergeWorkerMetrics } from './worker-metrics.js';
export {
  startTracing,
  type TracingOptions,
  type TracingHandle,
  type TraceExporterKind,
  TRACE_EXPORTERS,
  DEFAULT_SAMPLE_RATIO,
  DEFAULT_OTLP_ENDPOINT,
} from './tracing.js';
export { createPinoLogger, type PinoLoggerOptions, type LogLevel, LOG_LEVELS, DEFAULT_LOG_LEVEL } from './pino-logger.js';
export { boundedDestination, type BoundedDestination } from './bounded-destination.js';
export {
  ControlPlaneMetrics,
  type ControlPlaneSources,
  type ReloadResult,
  CONTROL_PLANE_METRICS,
} from './control-plane-metrics.js';
