// Two FairwayServers sharing state through a real redis-server: both report fairway_shared_state_up 1 and see
// each other; with Redis killed they keep serving through the proxy (no request lost or failed), report 0, and
// come back to 1 with the peer once Redis restarts empty.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceHarness, TEST_MODEL, metricValue, startService, waitFor } from '../../support/service-harness.js';
import { RedisServer } from '../../support/redis-server.js';

const T = 20;

async function metrics(h: ServiceHarness): Promise<string> {
  const res = await request(`http://127.0.0.1:${h.ports.metrics}/metrics`);
  return res.body.text();
}

async function complete(h: ServiceHarness, tenant: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gateway-inference-fairness-id': tenant },
    body: JSON.stringify({ model: TEST_MODEL, prompt: 'hello shared state', max_tokens: 4 }),
  });
  await res.body.text();
  return res.statusCode;
}

describe('servers sharing state through Redis', () => {
  let redis: RedisServer;
  let a: ServiceHarness;
  let b: ServiceHarness;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const sharedState = { backend: 'redis', url: redis.url, keyPrefix: '{srv}:', syncIntervalMs: T };
    a = await startService({ proxy: true, replicas: 1, config: { sharedState: { ...sharedState, replicaId: 'a' } } });
    b = await startService({ proxy: true, replicas: 1, config: { sharedState: { ...sharedState, replicaId: 'b' } } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it('report up with one peer, turn local-only while Redis is down without failing requests, and rejoin after it restarts empty', async () => {
    const up = async (h: ServiceHarness): Promise<[number, number]> => {
      const text = await metrics(h);
      return [metricValue(text, 'fairway_shared_state_up'), metricValue(text, 'fairway_shared_state_peers')];
    };
    // Polled, never read once: on a loaded machine a single round can answer later than its 20 ms interval, and the
    // replica is local-only (up 0, peers 0) for that round; a one-off read right after the wait caught such a blip.
    const bothConnected = async (): Promise<boolean> => (await up(a)).join() === '1,1' && (await up(b)).join() === '1,1';
    await waitFor('both replicas connected and seeing each other', bothConnected);
    expect(await complete(a, 't1')).toBe(200);

    await redis.kill();
    await waitFor('replica a local-only', async () => (await up(a))[0] === 0, 2_000);
    const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => complete(i % 2 === 0 ? a : b, `t${i % 3}`)));
    expect(statuses).toEqual(Array(10).fill(200));

    await redis.restart();
    await waitFor('both replicas rejoined', bothConnected, 5_000);
    expect(a.server.shared?.exchange.stats().failedRounds).toBeGreaterThan(0);
  });
});
