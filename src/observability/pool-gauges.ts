// Scrape-time gauges over the endpoint pool, with the Go reference's names and `name` label: average KV-cache
// utilisation and average server queue over endpoints with fresh metrics, the endpoints that can take work now
// (`inference_pool_ready_pods`) and, as Fairway's own gauge, every endpoint in the pool.
import { type PoolView, type ReachabilityView } from '../datalayer/index.js';
import { type MetricContext } from './metric-context.js';
import { FAIRWAY_METRICS, GO_METRICS } from './metric-names.js';
import { registerScrapeGauge } from './scrape-gauge.js';

export function registerPoolGauges(ctx: MetricContext, pool: PoolView, reachability?: ReachabilityView): void {
  const { registry, logger } = ctx;
  const labels = { name: ctx.poolName };
  /** Average of `pick` over endpoints with fresh metrics; undefined (no sample) when there are none. */
  const average = (pick: (m: { kvCacheUsage: number; waitingQueue: number }) => number): number | undefined => {
    let n = 0;
    let sum = 0;
    for (const e of pool.current().endpoints) {
      if (e.metrics === undefined || e.stale) continue;
      n++;
      sum += pick(e.metrics);
    }
    return n === 0 ? undefined : sum / n;
  };
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(GO_METRICS.poolAvgKvCache), help: 'Average KV-cache utilisation (0..1) over endpoints with fresh metrics.', labelNames: ['name'] },
    (g) => {
      const v = average((m) => m.kvCacheUsage);
      if (v !== undefined) g.set(labels, v);
    },
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(GO_METRICS.poolAvgQueueSize), help: 'Average requests waiting in the model servers\' own queues, over endpoints with fresh metrics.', labelNames: ['name'] },
    (g) => {
      const v = average((m) => m.waitingQueue);
      if (v !== undefined) g.set(labels, v);
    },
  );
  // Ready means able to take work now: a dead pod goes stale at its first failed scrape (or once its metrics age
  // past the staleness limit) and stops counting, though it stays in the pool until Kubernetes removes it.
  registerScrapeGauge(
    registry,
    logger,
    {
      name: ctx.name(GO_METRICS.poolReadyPods),
      help: 'Endpoints that can take work now: in the pool with fresh metrics (not stale, not unscraped).',
      labelNames: ['name'],
    },
    (g) => g.set(labels, pool.current().endpoints.reduce((n, e) => (e.stale || e.metrics === undefined ? n : n + 1), 0)),
  );
  registerScrapeGauge(
    registry,
    logger,
    { name: ctx.name(FAIRWAY_METRICS.poolEndpoints), help: 'Endpoints in the pool, whether they can take work now or not (stale ones included).', labelNames: ['name'] },
    (g) => g.set(labels, pool.current().endpoints.length),
  );
  if (reachability === undefined) return;
  registerScrapeGauge(
    registry,
    logger,
    {
      name: ctx.name(FAIRWAY_METRICS.poolReachable),
      help: '0 while no endpoint of the pool has answered for pool.unreachableAfterMs (connections refused) or pool.unresponsiveAfterMs (connections accepted, not a byte of a metrics page back in time: frozen pods); requests are then answered 503 pool-unreachable instead of held. Else 1.',
      labelNames: ['name'],
    },
    (g) => g.set(labels, reachability.current().reachable ? 1 : 0),
  );
}
