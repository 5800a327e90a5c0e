// The scale-from-zero waiting room through both front ends: with flowControl.noEndpointRequestTtlMs set and a pool
// with no endpoints at all, requests wait (counted in fairway_pending_requests{stage="waiting-for-endpoints"},
// what an autoscaler scales on) and are routed the moment the first endpoint appears; with none appearing in
// time they get 503 no-endpoints. Without the setting, an empty pool answers 503 at once (ext-proc-lifecycle).
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { type ServiceHarness, TEST_MODEL, completionBody, inferenceHeaders, metricValue, startService, waitFor } from '../../support/service-harness.js';

let h: ServiceHarness;
const dispatcher = new Agent({ connections: 4 });

beforeAll(async () => {
  h = await startService({ replicas: 1, noEndpoints: true, proxy: true, config: { flowControl: { noEndpointRequestTtlMs: 30_000 } } });
});

afterAll(async () => {
  await dispatcher.close();
  await h?.close();
});

const setEndpoints = (endpoints: { host: string; port: number }[]): void => {
  const c = h.server.config;
  h.server.applyConfig(validateConfig({ ...c, pool: { ...c.pool, endpoints } }));
};
const waiting = async (): Promise<number> =>
  metricValue(await h.server.registry.metrics(), 'fairway_pending_requests', { stage: 'waiting-for-endpoints', target_model_name: TEST_MODEL });

describe('scale from zero: the waiting room', () => {
  it('holds requests while the pool is empty and routes them, through both front ends, when an endpoint appears', async () => {
    const viaProxy = request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
      method: 'POST',
      headers: inferenceHeaders('cold-start'),
      body: completionBody({ max_tokens: 2 }),
      dispatcher,
    });
    const viaExtProc = h.client.sendRequest({ headers: inferenceHeaders('cold-start'), bodyChunks: [completionBody()] });
    await waitFor('both requests in the waiting room', async () => (await waiting()) === 2, 5_000);
    // Still waiting well after a scrape interval: nothing is answered while the pool is empty.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await waiting()).toBe(2);

    const sim = h.pool.servers[0]!;
    setEndpoints([{ host: sim.host, port: sim.port }]);
    const res = await viaProxy;
    expect(res.statusCode).toBe(200);
    await res.body.text();
    const ex = await viaExtProc;
    expect(ex.immediate).toBeUndefined();
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe(`${sim.host}:${sim.port}`);
    await ex.stream.sendResponse({ bodyChunks: ['{}'] });
    ex.stream.end();
    expect(await waiting()).toBe(0);
  });

  it('answers 503 no-endpoints when no endpoint appears within the wait (bounded by the request\'s own TTL too)', async () => {
    setEndpoints([]);
    const started = Date.now();
    const res = await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
      method: 'POST',
      headers: inferenceHeaders('cold-start', undefined, { 'x-fairway-request-ttl-ms': '300' }),
      body: completionBody({ max_tokens: 2 }),
      dispatcher,
    });
    const body = await res.body.text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(res.statusCode).toBe(503);
    expect(res.headers['x-fairway-drop-reason']).toBe('no-endpoints');
    expect(body).toContain('no model-server endpoint appeared within 300 ms');
    expect(await waiting()).toBe(0);
  });
});
