// A pod that dies between two scrapes still looks like the best pick until its next scrape fails. In proxy mode the
// request then fails to connect before anything was sent, so Fairway sends it to the next-best pod instead of
// answering 503, counts the retry, and moves the request's accounting to the pod that served it.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServiceHarness,
  completionBody,
  endpointIn,
  metricValue,
  startService,
  waitFor,
  waitForScrape,
} from '../../support/service-harness.js';

let h: ServiceHarness;
const dispatcher = new Agent({ connections: 4 });

beforeAll(async () => {
  h = await startService({
    replicas: 2,
    proxy: true,
    // Replica 0 looks idle and replica 1 busy, so every request picks replica 0 first. Scrapes are slow (1.5 s) so
    // the kill below happens well inside one scrape interval: the dead pod still looks fresh and best. Running
    // counts are pinned at 0: a scrape catching one real request running beside the 3 fake waiting ones reads as
    // a server with one batch slot (the hybrid detector's slot learner), which then rightly leaves replica 1 out
    // of the candidates and made the retry's outcome depend on scrape timing.
    fakeMetrics: [{ waiting: 0, running: 0, kvUsage: 0.1 }, { waiting: 3, running: 0, kvUsage: 0.1 }],
    config: {
      pool: { metrics: { intervalMs: 1_500, stalenessMs: 5_000 } },
      saturation: { detector: 'hybrid', options: { stalenessMs: 5_000 } },
    },
  });
  await waitForScrape(h.server, h.ids, (e) => e.metrics?.kvCacheUsage === 0.1);
});

afterAll(async () => {
  await dispatcher.close();
  await h?.close();
});

describe('proxy mode with a pod that just died', () => {
  it('retries on the next candidate instead of answering 503, and counts each retry', async () => {
    const [deadId, liveId] = h.ids as [string, string];
    // Kill replica 0 right after one of its scrapes lands: the next one is 1.5 s away.
    const scrapedAt = endpointIn(h.server, deadId)?.scrapedAt;
    await waitFor('a fresh scrape of replica 0', () => endpointIn(h.server, deadId)?.scrapedAt !== scrapedAt, 5_000, 2);
    await h.pool.simulators[0]!.close();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gateway-inference-fairness-id': 'dead-pod' },
        body: completionBody({ max_tokens: 2 }),
        dispatcher,
      });
      statuses.push(res.statusCode);
      await res.body.text();
    }
    // Still inside the scrape interval: the dead pod looked fresh (and best) for every one of them.
    expect(endpointIn(h.server, deadId)?.stale).toBe(false);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const text = await h.server.registry.metrics();
    expect(metricValue(text, 'fairway_upstream_connect_failures_total', { outcome: 'retried' })).toBe(5);
    expect(metricValue(text, 'fairway_upstream_connect_failures_total', { outcome: 'exhausted' })).toBe(0);
    // Each was served by the fallback: its in-flight count and prefix record moved there, and it was counted.
    expect(metricValue(text, 'fairway_fallback_served_total')).toBe(5);
    expect(h.server.inflight.load(liveId).requests + h.server.inflight.load(deadId).requests).toBe(0);
  });
});
