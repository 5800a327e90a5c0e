// Shared-state metrics: whether this replica is connected to the pool's shared state (`fairway_shared_state_up`,
// 0 while it serves local-only), how many other replicas it sees, and how long each sync round takes.
import { Counter, Histogram } from 'prom-client';
import { type ExchangeObserver, type ExchangeStats } from '../sharedstate/index.js';
import { BUCKETS, FAIRWAY_METRICS } from './metric-names.js';
import { type MetricContext } from './metric-context.js';
import { registerScrapeGauge } from './scrape-gauge.js';

export function registerSharedStateMetrics(ctx: MetricContext, stats: () => ExchangeStats | undefined): ExchangeObserver {
  registerScrapeGauge(ctx.registry, ctx.logger, { name: ctx.name(FAIRWAY_METRICS.sharedStateUp), help: 'Connected to the pool\'s shared state (1), or serving local-only (0).' }, (g) => {
    const s = stats();
    if (s !== undefined) g.set(s.up ? 1 : 0);
  });
  registerScrapeGauge(ctx.registry, ctx.logger, { name: ctx.name(FAIRWAY_METRICS.sharedStatePeers), help: 'Other live replicas seen at the last sync (0 while local-only).' }, (g) => {
    const s = stats();
    if (s !== undefined) g.set(s.peers);
  });
  registerScrapeGauge(ctx.registry, ctx.logger, { name: ctx.name(FAIRWAY_METRICS.sharedStateScrapeLeader), help: 'This replica holds the scrape lease: it scrapes the pool for every replica.' }, (g) => {
    const s = stats();
    if (s !== undefined) g.set(s.leaseHolder === s.origin ? 1 : 0);
  });
  const rounds = new Counter({
    name: ctx.name(FAIRWAY_METRICS.sharedStateRounds),
    help: 'Shared-state sync rounds by result (ok, failed: error, timeout or lost data rewritten).',
    labelNames: ['result'],
    registers: [ctx.registry],
  });
  const duration = new Histogram({
    name: ctx.name(FAIRWAY_METRICS.sharedStateRoundDuration),
    help: 'Duration of shared-state sync rounds (one round trip to the store), seconds.',
    buckets: [...BUCKETS.fastSeconds],
    registers: [ctx.registry],
  });
  return {
    onRound: (ms, ok) => {
      rounds.inc({ result: ok ? 'ok' : 'failed' });
      if (ok) duration.observe(ms / 1000);
    },
  };
}
