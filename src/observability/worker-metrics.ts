// Merges the metrics of the workers of `fairway serve --workers N` into the one exposition their primary serves.
// Counters and histograms add up (each worker counts its own requests), and so do the gauges listed here (each
// worker's queue, in-flight requests and flows are its own part of the host's). Every other gauge is one
// worker's reading of something they all see (connected to the shared state, peers, saturation, the pool's
// averages): summed it would read N times too high, so it is kept once per worker under a `worker` label.
import { AggregatorRegistry, type Registry } from 'prom-client';
import { FAIRWAY_METRICS, GO_METRICS } from './metric-names.js';

/** Gauges whose values add up across workers (base names, before the configured prefix). */
export const ADDITIVE_GAUGES: readonly string[] = [
  GO_METRICS.queueSize,
  GO_METRICS.queueBytes,
  FAIRWAY_METRICS.inflightRequests,
  FAIRWAY_METRICS.liveFlows,
  FAIRWAY_METRICS.bandFlows,
  FAIRWAY_METRICS.evictableInflight,
  FAIRWAY_METRICS.heldAtCaps,
  // How many workers scrape the pool: 1 when scrapes are shared.
  FAIRWAY_METRICS.sharedStateScrapeLeader,
];

/** Label naming the worker of a gauge that is not summed. */
export const WORKER_LABEL = 'worker';

/** One worker's metrics as `Registry.getMetricsAsJSON()` returns them (carried over IPC as plain data). */
export interface WorkerMetrics {
  readonly worker: string;
  readonly metrics: readonly unknown[];
}

interface MetricJson {
  readonly name: string;
  readonly type: unknown;
  readonly values: readonly { readonly labels?: Record<string, unknown> }[];
}

function isMetricJson(m: unknown): m is MetricJson {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as { name?: unknown; values?: unknown };
  return typeof x.name === 'string' && Array.isArray(x.values);
}

/**
 * A registry holding the workers' metrics merged as described above. `prefix` is the configured metric-name
 * prefix. O(series x workers).
 */
export function mergeWorkerMetrics(workers: readonly WorkerMetrics[], prefix = ''): Registry {
  const additive = new Set(ADDITIVE_GAUGES.map((n) => `${prefix}${n}`));
  const labelled = workers.map((w) =>
    w.metrics.filter(isMetricJson).map((m) => {
      // prom-client's JSON names the type as a string ('gauge'), whatever its typings say.
      if (m.type !== 'gauge' || additive.has(m.name)) return m;
      return { ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, [WORKER_LABEL]: w.worker } })) };
    }),
  );
  return AggregatorRegistry.aggregate(labelled);
}
