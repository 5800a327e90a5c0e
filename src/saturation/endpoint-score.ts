// Per-endpoint scores shared by the detectors: freshness and the roofline utilization score.
import { type EndpointMetrics, type EndpointSnapshot } from '../datalayer/index.js';

/** @default 5 waiting requests, as the Go reference. */
export const DEFAULT_QUEUE_THRESHOLD = 5;
/** @default 0.8 KV-cache usage, as the Go reference. */
export const DEFAULT_KV_THRESHOLD = 0.8;
/** @default 200 ms, as the Go reference. */
export const DEFAULT_STALENESS_MS = 200;

/**
 * Metrics usable now: present, not flagged stale by the store, and not older than `stalenessMs`
 * (strictly older is stale, as in the Go reference, so an age exactly at the limit is still fresh).
 */
export function freshMetrics(
  endpoint: EndpointSnapshot,
  now: number,
  stalenessMs: number,
): EndpointMetrics | undefined {
  const { metrics, scrapedAt } = endpoint;
  if (endpoint.stale || metrics === undefined || scrapedAt === undefined) return undefined;
  return now - scrapedAt > stalenessMs ? undefined : metrics;
}

/**
 * Roofline: the endpoint is as saturated as its most constrained resource, compute (waiting queue) or
 * memory (KV cache). `waiting` and `kvUsage` may include open-loop estimates on top of the metrics.
 */
export function rooflineScore(waiting: number, kvUsage: number, queueThreshold: number, kvThreshold: number): number {
  return Math.max(waiting / queueThreshold, kvUsage / kvThreshold);
}
