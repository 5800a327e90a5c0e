// Scrape-time gauges over saturation detectors. Several detectors may be bound (one gates flow control, others
// run for comparison); each gets a `fairway_saturation{detector}` series, and the first bound one is the pool's
// figure (Go's pool saturation), its stale-endpoint count and its per-endpoint saturation.
import { type SaturationDetails } from '../saturation/index.js';
import { type MetricContext } from './metric-context.js';
import { FAIRWAY_METRICS, GO_METRICS } from './metric-names.js';
import { registerScrapeGauge } from './scrape-gauge.js';

/** What the gauges read from a detector; `SaturationDetector` satisfies it. */
export interface SaturationReadout {
  readonly name: string;
  details(): Pick<SaturationDetails, 'saturation' | 'staleEndpoints' | 'endpoints'>;
}

/** Registers the gauges once; `detectors` is read on every scrape, so detectors bound later are picked up. */
export function registerSaturationGauges(ctx: MetricContext, detectors: readonly SaturationReadout[]): void {
  const { registry, logger } = ctx;
  const primary = (): SaturationReadout | undefined => detectors[0];
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(GO_METRICS.poolSaturation), help: 'Saturation of the pool as flow control sees it (0 idle, >= 1 saturated).', labelNames: ['inference_pool'] },
    (g) => {
      const d = primary();
      if (d !== undefined) g.set({ inference_pool: ctx.poolName }, d.details().saturation);
    },
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.saturation), help: 'Pool saturation per bound detector (0 idle, >= 1 saturated).', labelNames: ['detector'] },
    (g) => {
      for (const d of detectors) g.set({ detector: d.name }, d.details().saturation);
    },
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.staleEndpoints), help: 'Endpoints counted as saturated because their metrics are missing or stale.' },
    (g) => g.set(primary()?.details().staleEndpoints ?? 0),
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.endpointSaturation), help: 'Saturation of each endpoint (>= 1: no headroom).', labelNames: ['endpoint'] },
    (g) => {
      // Cardinality is the pool size, which the operator controls.
      for (const [endpoint, s] of primary()?.details().endpoints ?? []) g.set({ endpoint }, s);
    },
  );
}
