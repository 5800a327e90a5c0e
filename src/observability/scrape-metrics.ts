// Metrics about scraping the model servers: every failed scrape counted by reason, how many endpoints are failing
// right now by reason (read from the pool at Prometheus scrape time), and the outcomes merged away unapplied.
import { Counter } from 'prom-client';
import { type PoolView, type ScrapeFailureReason, type ScrapeObserver, MERGE_ABOVE, SCRAPE_FAILURE_REASONS } from '../datalayer/index.js';
import { type MetricContext } from './metric-context.js';
import { FAIRWAY_METRICS } from './metric-names.js';
import { registerScrapeGauge } from './scrape-gauge.js';

export class ScrapeMetrics implements ScrapeObserver {
  private readonly failures: Counter<'reason'>;
  /** One child per reason, bound on first use: the counter is hit on every failed scrape of a large pool. */
  private readonly children = new Map<ScrapeFailureReason, { inc(): void }>();
  /** Endpoints failing now per reason (SCRAPE_FAILURE_REASONS order), refilled at each Prometheus scrape. */
  private readonly failingCounts = new Uint32Array(SCRAPE_FAILURE_REASONS.length);
  private readonly merged: Counter;

  constructor(private readonly ctx: MetricContext) {
    this.failures = new Counter({
      name: ctx.name(FAIRWAY_METRICS.metricsScrapeFailures),
      help: 'Failed scrapes of model-server metrics, by reason (connect, timeout, slow, silent, reset, tls, http-status, bad-http, too-large, wrong-type, garbage, missing-metric, invalid-value, other).',
      labelNames: ['reason'],
      registers: [ctx.registry],
    });
    this.merged = new Counter({
      name: ctx.name(FAIRWAY_METRICS.metricsScrapeOutcomesMerged),
      help: `Scrape outcomes (good or failed) merged away before the dispatch thread applied them: with more than ${MERGE_ABOVE} waiting it keeps each endpoint's newest good outcome and the newest failure after it. Rising: the dispatch thread falls behind the scrape worker (short of CPU). Merged failures are in fairway_metrics_scrape_failures_total too.`,
      registers: [ctx.registry],
    });
  }

  onOutcomesMerged(_endpointId: string, count: number): void {
    this.merged.inc(count);
  }

  onScrapeFailure(_endpointId: string, reason: ScrapeFailureReason): void {
    let child = this.children.get(reason);
    if (child === undefined) {
      child = this.failures.labels(reason);
      this.children.set(reason, child);
    }
    child.inc();
  }

  /** Registers the gauge of endpoints failing now, by the reason of their latest failure. */
  bindPool(pool: PoolView): void {
    registerScrapeGauge(
      this.ctx.registry,
      this.ctx.logger,
      {
        name: this.ctx.name(FAIRWAY_METRICS.metricsScrapeFailingEndpoints),
        help: 'Endpoints whose metrics scrapes are failing now, by the reason of the latest failure.',
        labelNames: ['reason'],
      },
      (g) => {
        const counts = this.failingCounts;
        counts.fill(0);
        for (const e of pool.current().endpoints) {
          const reason = e.scrapeFailure?.reason;
          const i = reason === undefined ? -1 : SCRAPE_FAILURE_REASONS.indexOf(reason);
          if (i >= 0) counts[i] = (counts[i] ?? 0) + 1;
        }
        for (const [i, n] of counts.entries()) if (n > 0) g.set({ reason: SCRAPE_FAILURE_REASONS[i] ?? 'other' }, n);
      },
    );
  }
}
