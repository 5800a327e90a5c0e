// Scheduling against real HTTP servers on 127.0.0.1 ephemeral ports: the bound on scrapes in flight holds
// across endpoints, and endpoints waiting for a slot are all scraped in turn rather than some going stale.
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../../src/core/index.js';
import { PoolMonitor, StaticEndpointSource } from '../../../src/datalayer/index.js';
import { LoopbackServer, waitFor } from './loopback-server.js';

const GOOD = `vllm:num_requests_waiting{model_name="m"} 0
vllm:num_requests_running{model_name="m"} 1
vllm:kv_cache_usage_perc{model_name="m"} 0.1
`;

const servers: LoopbackServer[] = [];
const monitors: PoolMonitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('scrape scheduling', () => {
  it('never more scrapes in flight than maxScrapesInFlight, across endpoints; every endpoint is still scraped', async () => {
    // Each answer takes 30 ms, six endpoints every 10 ms: far more than two slots can carry, so most are waiting.
    let active = 0;
    let most = 0;
    for (let i = 0; i < 6; i++) {
      const server = await new LoopbackServer((_req, res) => {
        active++;
        most = Math.max(most, active);
        setTimeout(() => {
          active--;
          res.end(GOOD);
        }, 30);
      }).listen();
      servers.push(server);
    }
    const monitor = new PoolMonitor({
      source: new StaticEndpointSource(servers.map((s) => ({ host: '127.0.0.1', port: s.port }))),
      clock: new SystemClock(),
      scrapeIntervalMs: 10,
      scrapeTimeoutMs: 5_000,
      staleAfterMs: 10_000,
      maxScrapesInFlight: 2,
    });
    monitors.push(monitor);
    await monitor.start();
    await waitFor('every endpoint scraped three times', () => servers.every((s) => s.requests >= 3));
    expect(most).toBeLessThanOrEqual(2);
    const counts = servers.map((s) => s.requests);
    // Taken in due order: none is more than one scrape (plus the one in flight) ahead of another.
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
    expect(monitor.pool.current().endpoints.every((e) => !e.stale)).toBe(true);
  });

  it('adaptive interval: a queueing server is scraped far more often than a busy one, an idle one no more often', async () => {
    const page = (waiting: number, running: number): string =>
      `vllm:num_requests_waiting{model_name="m"} ${waiting}\nvllm:num_requests_running{model_name="m"} ${running}\nvllm:kv_cache_usage_perc{model_name="m"} 0.3\n`;
    const [queueing, busy, idle] = await Promise.all(
      [page(5, 32), page(0, 12), page(0, 0)].map(async (body) => {
        const server = await new LoopbackServer((_req, res) => res.end(body)).listen();
        servers.push(server);
        return server;
      }),
    );
    const monitor = new PoolMonitor({
      source: new StaticEndpointSource([queueing!, busy!, idle!].map((s) => ({ host: '127.0.0.1', port: s.port }))),
      clock: new SystemClock(),
      scrapeIntervalMs: 200,
      staleAfterMs: 5_000,
      staggerStart: false,
      adaptiveInterval: { minIntervalMs: 10, maxIntervalMs: 1_000 },
    });
    monitors.push(monitor);
    await monitor.start();
    await waitFor('the queueing server scraped 40 times', () => queueing!.requests >= 40);
    // Every 10 ms against every 200 ms: however slow the machine, both slow down alike.
    expect(busy!.requests * 2).toBeLessThan(queueing!.requests);
    // Same start, never a shorter interval than the busy one's.
    expect(idle!.requests).toBeLessThanOrEqual(busy!.requests);
    expect(monitor.pool.current().endpoints.every((e) => !e.stale)).toBe(true);
  });
});
