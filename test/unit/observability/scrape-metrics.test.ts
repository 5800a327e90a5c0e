// Scrape metrics: every failed scrape counted by reason; endpoints failing now, by reason, read from the pool.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { type EndpointSnapshot, type PoolSnapshot } from '../../../src/datalayer/index.js';
import { FAIRWAY_METRICS, FairwayMetrics } from '../../../src/observability/index.js';
import { samples, scrape, value } from './scrape.js';

function endpoint(id: string, failure?: EndpointSnapshot['scrapeFailure']): EndpointSnapshot {
  return { id, host: id, port: 1, labels: {}, metrics: undefined, scrapedAt: undefined, stale: failure !== undefined, ...(failure ? { scrapeFailure: failure } : {}) };
}

describe('scrape metrics', () => {
  it('counts failed scrapes by reason and gauges endpoints failing now by their latest reason', async () => {
    const registry = new Registry();
    const metrics = new FairwayMetrics(registry);
    const snapshot: PoolSnapshot = {
      version: 1,
      takenAt: 0,
      endpoints: [endpoint('a', { reason: 'timeout' }), endpoint('b', { reason: 'timeout' }), endpoint('c', { reason: 'tls' }), endpoint('d')],
    };
    metrics.bindPool({ current: () => snapshot, subscribe: () => () => undefined });
    metrics.scrapes.onScrapeFailure('a', 'timeout');
    metrics.scrapes.onScrapeFailure('a', 'timeout');
    metrics.scrapes.onScrapeFailure('c', 'too-large');
    const all = await scrape(registry);
    expect(value(all, FAIRWAY_METRICS.metricsScrapeFailures, { reason: 'timeout' })).toBe(2);
    expect(value(all, FAIRWAY_METRICS.metricsScrapeFailures, { reason: 'too-large' })).toBe(1);
    expect(value(all, FAIRWAY_METRICS.metricsScrapeFailingEndpoints, { reason: 'timeout' })).toBe(2);
    expect(value(all, FAIRWAY_METRICS.metricsScrapeFailingEndpoints, { reason: 'tls' })).toBe(1);
    expect(samples(all, FAIRWAY_METRICS.metricsScrapeFailingEndpoints)).toHaveLength(2);
  });

  it('counts the outcomes merged away before the dispatch thread applied them', async () => {
    const registry = new Registry();
    const metrics = new FairwayMetrics(registry);
    expect(value(await scrape(registry), FAIRWAY_METRICS.metricsScrapeOutcomesMerged)).toBe(0);
    metrics.scrapes.onOutcomesMerged('a', 3);
    metrics.scrapes.onOutcomesMerged('b', 1);
    expect(value(await scrape(registry), FAIRWAY_METRICS.metricsScrapeOutcomesMerged)).toBe(4);
  });
});
