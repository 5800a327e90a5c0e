// Scrape-time gauges over `FlowController.stats()`: per-band queue depth and bytes (Go names), flows and ceiling
// per band, requests in flight, live flows and the requests that may still be evicted in flight.
import { type FlowControlStats } from '../flowcontrol/index.js';
import { type MetricContext } from './metric-context.js';
import { FAIRWAY_METRICS, GO_METRICS } from './metric-names.js';
import { registerScrapeGauge } from './scrape-gauge.js';

/** `now` is the clock flow control stamps its requests with (for the age of the oldest queued request). */
export function registerFlowControlGauges(ctx: MetricContext, stats: () => FlowControlStats, now: () => number): void {
  const { registry, logger } = ctx;
  registerScrapeGauge(
    registry,
    logger,
    {
      name: ctx.name(FAIRWAY_METRICS.bandOldestWait),
      help: 'Age of the oldest request queued in each priority band, seconds (0 when the band is empty).',
      labelNames: ['priority', 'band'],
    },
    (g) => {
      const t = now();
      for (const b of stats().bands) {
        g.set({ priority: String(b.priority), band: b.name }, b.oldestEnqueuedAt === undefined ? 0 : Math.max(0, t - b.oldestEnqueuedAt) / 1000);
      }
    },
  );
  // One stats() call per scrape would need a shared snapshot across gauges; stats() is O(bands), so each reads its own.
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(GO_METRICS.queueSize), help: 'Requests held in the flow-control queues, per priority band.', labelNames: ['priority', 'inference_pool'] },
    (g) => {
      for (const b of stats().bands) g.set({ priority: String(b.priority), inference_pool: ctx.poolName }, b.queuedRequests);
    },
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(GO_METRICS.queueBytes), help: 'Bytes of the requests held in the flow-control queues, per priority band.', labelNames: ['priority', 'inference_pool'] },
    (g) => {
      for (const b of stats().bands) g.set({ priority: String(b.priority), inference_pool: ctx.poolName }, b.queuedBytes);
    },
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.bandFlows), help: 'Flows (tenants) with state in each priority band.', labelNames: ['priority', 'band'] },
    (g) => {
      for (const b of stats().bands) g.set({ priority: String(b.priority), band: b.name }, b.flows);
    },
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.bandCeiling), help: 'Current dispatch ceiling of each priority band (usage-limit policy).', labelNames: ['priority', 'band'] },
    (g) => {
      for (const b of stats().bands) g.set({ priority: String(b.priority), band: b.name }, b.ceiling);
    },
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.inflightRequests), help: 'Dispatched requests whose lease is not yet released.' },
    (g) => g.set(stats().inflight),
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.liveFlows), help: 'Flows (tenant x priority) currently held by flow control.' },
    (g) => g.set(stats().liveFlows),
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.evictableInflight), help: 'Dispatched requests that flow control may still evict in flight (sheddable work).' },
    (g) => g.set(stats().evictableInflight),
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.heldAtCaps), help: 'Queued requests held because their tenant is at its concurrency cap (pool-wide limits).' },
    (g) => g.set(stats().heldAtCaps),
  );
}
