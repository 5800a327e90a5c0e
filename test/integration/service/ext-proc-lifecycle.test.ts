// Fairway end to end at the edges of its life: a pool with no endpoints (503 no-endpoints), and the SIGTERM path
// (server.shutdown): queued requests answered 503 shutdown at once, the in-flight one allowed to finish, then
// every port closed.
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeMetrics } from '../../../src/simulator/index.js';
import { type EnvoyStream, immediateOf } from '../../support/envoy-ext-proc-client.js';
import {
  type ServiceHarness,
  completionBody,
  forwardResponse,
  inferenceHeaders,
  openRequest,
  startService,
  streamStatus,
  waitFor,
  waitForScrape,
} from '../../support/service-harness.js';

const FULL: FakeMetrics = { waiting: 100, running: 32, kvUsage: 0.9 };

describe('a pool without endpoints', () => {
  let h: ServiceHarness;
  beforeAll(async () => {
    h = await startService({ replicas: 1, noEndpoints: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers 503 no-endpoints with Retry-After at once, and queues nothing', async () => {
    expect(h.server.monitor.pool.current().endpoints).toHaveLength(0);
    const ex = await h.client.sendRequest({
      headers: inferenceHeaders('tenant-none', undefined, { 'x-request-id': 'none-1' }),
      bodyChunks: [completionBody()],
    });
    expect(ex.immediate?.status).toBe(503);
    expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('no-endpoints');
    expect(ex.immediate?.headers.get('retry-after')).toBe('5');
    expect(ex.immediate?.headers.get('x-request-id')).toBe('none-1');
    expect(ex.immediate?.body).toMatch(/\S/);
    expect((await streamStatus(ex.stream)).code).toBe(0);
    const st = h.server.flowControl.stats();
    expect(st.queuedRequests).toBe(0);
    expect(st.inflight).toBe(0);
  });
});

describe('shutdown (what SIGTERM runs) with requests queued and one in flight', () => {
  let h: ServiceHarness;
  beforeAll(async () => {
    h = await startService({
      replicas: 2,
      config: {
        objectives: { interactive: 10, standard: 0, batch: -1 },
        server: { shutdownGraceMs: 10_000 },
      },
    });
    await waitForScrape(h.server, h.ids, (e) => e.metrics?.waitingQueue === 0);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers every queued request 503 shutdown, lets the in-flight response finish, then closes every port', async () => {
    const admin = `http://127.0.0.1:${h.ports.metrics}`;
    expect((await request(`${admin}/readyz`)).statusCode).toBe(200);

    // One request routed and in flight (its response not yet sent back through the stream).
    const body = completionBody({ max_tokens: 4, ignore_eos: true });
    const routed = await h.client.sendRequest({ headers: inferenceHeaders('tenant-inflight', 'standard'), bodyChunks: [body] });
    const dest = routed.setHeaders.get('x-gateway-destination-endpoint');
    expect(dest).toBeDefined();
    expect(h.server.inflight.totalRequests()).toBe(1);

    // Then the pool fills up and three requests of different priorities queue.
    for (const sim of h.pool.simulators) sim.setFakeMetrics(FULL);
    await waitForScrape(h.server, h.ids, (e) => e.metrics?.waitingQueue === 100);
    await waitFor('pool saturation >= 1', () => h.server.saturation.saturation() >= 1);
    const queued: EnvoyStream[] = ['batch', 'standard', 'interactive'].map((objective) =>
      openRequest(h.client, inferenceHeaders('tenant-queued', objective), completionBody({ prompt: objective })),
    );
    await waitFor('three queued requests', () => h.server.flowControl.stats().queuedRequests === 3);

    let stopped = false;
    const shutdown = h.server.shutdown().then(() => {
      stopped = true;
    });
    for (const s of queued) {
      const imm = immediateOf(await s.expectNext());
      expect(imm?.status).toBe(503);
      expect(imm?.headers.get('x-fairway-drop-reason')).toBe('shutdown');
      expect(imm?.headers.get('retry-after')).toBe('5');
      expect((await streamStatus(s)).code).toBe(0);
    }
    expect(h.server.flowControl.stats().queuedRequests).toBe(0);

    // Draining: not ready any more, the in-flight request still holds the server open.
    expect((await request(`${admin}/readyz`)).statusCode).toBe(503);
    expect(h.server.inflight.totalRequests()).toBe(1);
    expect(stopped).toBe(false);

    // New requests during the drain are refused as shutdown too.
    const late = await h.client.sendRequest({ headers: inferenceHeaders('tenant-late'), bodyChunks: [completionBody()] });
    expect(late.immediate?.status).toBe(503);
    expect(late.immediate?.headers.get('x-fairway-drop-reason')).toBe('shutdown');

    // The in-flight response completes through the stream, as Envoy would pass it on.
    const upstream = await request(`http://${dest}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: routed.body,
    });
    const fwd = await forwardResponse(routed.stream, upstream);
    expect(fwd.status).toBe(200);
    expect(JSON.parse(Buffer.concat(fwd.returned.map((c) => c.body)).toString('utf8'))).toMatchObject({ usage: { completion_tokens: 4 } });
    routed.stream.end();

    await waitFor('shutdown to resolve', () => stopped, 8_000);
    await shutdown;
    expect(h.server.inflight.totalRequests()).toBe(0);
    expect(h.server.flowControl.stats().inflight).toBe(0);

    // Every port is closed: the admin port refuses connections, a new ext_proc stream fails.
    await expect(request(`${admin}/healthz`)).rejects.toThrow();
    const after = h.client.openStream();
    after.sendRequestHeaders([[':method', 'POST'], [':path', '/v1/completions']], false);
    expect((await streamStatus(after)).code).toBe(grpc.status.UNAVAILABLE);
  });
});
