// Fairway end to end, driven exactly as Envoy drives it (ext_proc over gRPC on loopback, FULL_DUPLEX_STREAMED),
// against real simulated model servers: routing, body handling, subset hints, bad requests, and the response
// path with usage accounting.
import { request } from 'undici';
import { CHARS_PER_TOKEN } from '../../../src/gateway/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServiceHarness,
  TEST_MODEL,
  completionBody,
  endpointIn,
  forwardResponse,
  inferenceHeaders,
  metricValue,
  startService,
  streamStatus,
  waitFor,
  waitForIdle,
  waitForScrape,
} from '../../support/service-harness.js';

const SUBSET_NS = 'envoy.lb.subset_hint';
const SUBSET_KEY = 'x-gateway-destination-endpoint-subset';

let h: ServiceHarness;
/** Replica 0: a long waiting queue and a nearly full KV cache. Replica 1: its real (idle) state. */
let busyId: string;
let idleId: string;

beforeAll(async () => {
  h = await startService({ replicas: 2, fakeMetrics: [{ waiting: 20, running: 8, kvUsage: 0.95 }, undefined] });
  [busyId, idleId] = h.ids as [string, string];
  await waitForScrape(h.server, h.ids, (e) => (e.id === busyId ? e.metrics?.waitingQueue === 20 : e.metrics?.waitingQueue === 0));
});

afterAll(async () => {
  await h?.close();
});

afterEach(async () => {
  // Every test leaves nothing behind: no queued request, no lease, no in-flight ticket.
  await waitForIdle(h.server);
});

describe('ext_proc request path against simulated pods', () => {
  it('routes to the endpoint with headroom, with identical header and envoy.lb metadata and the body unchanged', async () => {
    expect(endpointIn(h.server, busyId)?.metrics?.kvCacheUsage).toBeCloseTo(0.95);
    for (let i = 0; i < 5; i++) {
      const body = completionBody({ prompt: `routing probe ${i}` });
      const ex = await h.client.sendRequest({ headers: inferenceHeaders('tenant-route'), bodyChunks: [body] });
      expect(ex.immediate).toBeUndefined();
      expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe(idleId);
      expect(ex.metadataDestination).toBe(ex.setHeaders.get('x-gateway-destination-endpoint'));
      expect(ex.clearRouteCache).toBe(true);
      expect(ex.setHeaders.get('content-length')).toBe(String(Buffer.byteLength(body)));
      // No x-request-id was sent, so Fairway generated one and tells the model server.
      expect(ex.setHeaders.get('x-request-id')).toMatch(/\S+/);
      expect(ex.body.toString('utf8')).toBe(body);
      expect(ex.bodyChunks.at(-1)?.endOfStream).toBe(true);
      ex.stream.end();
      await streamStatus(ex.stream);
    }
  });

  it('returns a large body as the chunks it received, byte for byte, with the right Content-Length', async () => {
    const body = Buffer.from(completionBody({ prompt: 'x'.repeat(150_000) }));
    const chunks: Buffer[] = [];
    for (let o = 0; o < body.length; o += 16_384) chunks.push(body.subarray(o, o + 16_384));
    const ex = await h.client.sendRequest({ headers: inferenceHeaders('tenant-big', undefined, { 'x-request-id': 'big-1' }), bodyChunks: chunks });
    expect(ex.immediate).toBeUndefined();
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe(idleId);
    expect(ex.setHeaders.has('x-request-id')).toBe(false); // given by the client
    expect(ex.setHeaders.get('content-length')).toBe(String(body.length));
    expect(ex.bodyChunks.map((c) => c.body.length)).toEqual(chunks.map((c) => c.length));
    expect(ex.bodyChunks.slice(0, -1).every((c) => !c.endOfStream)).toBe(true);
    expect(ex.bodyChunks.at(-1)?.endOfStream).toBe(true);
    expect(ex.body.equals(body)).toBe(true);
    ex.stream.cancel();
  });

  it('reassembles a body sent in many small chunks', async () => {
    const body = Buffer.from(completionBody({ prompt: 'many small chunks '.repeat(40) }));
    const chunks: Buffer[] = [];
    for (let o = 0; o < body.length; o += 7) chunks.push(body.subarray(o, o + 7));
    expect(chunks.length).toBeGreaterThan(100);
    const ex = await h.client.sendRequest({ headers: inferenceHeaders('tenant-chunks'), bodyChunks: chunks });
    expect(ex.immediate).toBeUndefined();
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe(idleId);
    expect(ex.setHeaders.get('content-length')).toBe(String(body.length));
    expect(ex.body.equals(body)).toBe(true);
    expect(ex.bodyChunks.at(-1)?.endOfStream).toBe(true);
    ex.stream.end();
  });

  it('answers a header-only GET at once (no body expected) and passes the real response through', async () => {
    const ex = await h.client.sendRequest({ endOfStreamOnHeaders: true, method: 'GET', path: '/v1/models', headers: { 'x-request-id': 'get-1' } });
    expect(ex.immediate).toBeUndefined();
    expect(ex.responses).toHaveLength(1);
    const dest = ex.setHeaders.get('x-gateway-destination-endpoint');
    expect(dest).toBe(idleId);
    expect(ex.metadataDestination).toBe(dest);
    expect(ex.setHeaders.has('content-length')).toBe(false);
    const upstream = await request(`http://${dest}/v1/models`, { method: 'GET' });
    const fwd = await forwardResponse(ex.stream, upstream);
    expect(fwd.status).toBe(200);
    const returned = Buffer.concat(fwd.returned.map((c) => c.body)).toString('utf8');
    expect(returned).toBe(Buffer.concat(fwd.sent).toString('utf8'));
    expect((JSON.parse(returned) as { data: { id: string }[] }).data.map((m) => m.id)).toContain(TEST_MODEL);
    // Envoy half-closes once the HTTP exchange is over; the picker then ends the stream with OK.
    ex.stream.end();
    expect((await streamStatus(ex.stream)).code).toBe(0);
  });
});

describe('subset hints', () => {
  it('honours a matching subset even when it holds only the busy endpoint', async () => {
    const ex = await h.client.sendRequest({
      headers: inferenceHeaders('tenant-subset'),
      bodyChunks: [completionBody()],
      metadata: { [SUBSET_NS]: { [SUBSET_KEY]: [busyId] } },
    });
    expect(ex.immediate).toBeUndefined();
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe(busyId);
    expect(ex.metadataDestination).toBe(busyId);
    ex.stream.end();
  });

  it('picks within a subset of several endpoints, ignoring ids outside the pool', async () => {
    const ex = await h.client.sendRequest({
      headers: inferenceHeaders('tenant-subset'),
      bodyChunks: [completionBody()],
      metadata: { [SUBSET_NS]: { [SUBSET_KEY]: [busyId, idleId, '10.255.255.1:8000'] } },
    });
    expect(ex.immediate).toBeUndefined();
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe(idleId);
    ex.stream.end();
  });

  it('answers 503 empty-subset with Retry-After for an empty subset and for one that matches no pod', async () => {
    for (const subset of [[], ['10.255.255.1:8000']]) {
      const ex = await h.client.sendRequest({
        headers: inferenceHeaders('tenant-subset'),
        bodyChunks: [completionBody()],
        metadata: { [SUBSET_NS]: { [SUBSET_KEY]: subset } },
      });
      expect(ex.immediate?.status).toBe(503);
      expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('empty-subset');
      expect(ex.immediate?.headers.get('retry-after')).toBe('5');
      expect(ex.immediate?.body).not.toBe('');
      expect((await streamStatus(ex.stream)).code).toBe(0);
    }
  });
});

describe('bad requests', () => {
  it('answers 400 bad-request for invalid JSON and for a body without a model, without Retry-After', async () => {
    const bodies = ['{"model": "m", "prompt": ', JSON.stringify({ prompt: 'no model here', max_tokens: 4 })];
    for (const body of bodies) {
      const ex = await h.client.sendRequest({ headers: inferenceHeaders('tenant-bad', undefined, { 'x-request-id': 'bad-1' }), bodyChunks: [body] });
      expect(ex.immediate?.status).toBe(400);
      expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('bad-request');
      expect(ex.immediate?.headers.get('x-request-id')).toBe('bad-1');
      expect(ex.immediate?.headers.has('retry-after')).toBe(false);
      expect(ex.immediate?.body.length).toBeGreaterThan(0);
      expect(ex.responses).toHaveLength(1);
    }
    const text = await h.server.registry.metrics();
    expect(metricValue(text, 'fairway_shed_requests_total', { reason: 'bad-request', status: '400' })).toBeGreaterThanOrEqual(2);
  });

  it('answers 400 for invalid JSON at the end of a long multi-chunk body (nothing routed); routes the valid one, characters split across chunks, byte for byte', async () => {
    const good = Buffer.from(completionBody({ prompt: 'é中😀'.repeat(30_000) }));
    const bad = Buffer.concat([good.subarray(0, good.length - 1), Buffer.from(',}')]); // a trailing comma, 270 KB in
    // An odd chunk size cuts inside multi-byte characters.
    const split = (b: Buffer): Buffer[] => Array.from({ length: Math.ceil(b.length / 16_383) }, (_, i) => b.subarray(i * 16_383, (i + 1) * 16_383));
    const rejected = await h.client.sendRequest({ headers: inferenceHeaders('tenant-bad-end'), bodyChunks: split(bad) });
    expect(rejected.immediate?.status).toBe(400);
    expect(rejected.immediate?.body).toMatch(/not valid JSON/);
    expect(rejected.responses).toHaveLength(1);
    const routed = await h.client.sendRequest({ headers: inferenceHeaders('tenant-split'), bodyChunks: split(good) });
    expect(routed.immediate).toBeUndefined();
    expect(routed.setHeaders.get('content-length')).toBe(String(good.length));
    expect(routed.body.equals(good)).toBe(true);
    routed.stream.cancel();
  });
});

describe('response path with usage accounting', () => {
  it('passes an SSE response through chunk by chunk, then releases in-flight load and counts the served tokens', async () => {
    const tenant = 'tenant-sse';
    const before = metricValue(await h.server.registry.metrics(), 'fairway_tenant_served_tokens_total', { fairness_id: tenant });
    const body = completionBody({ max_tokens: 12, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
    const ex = await h.client.sendRequest({ headers: inferenceHeaders(tenant, undefined, { 'x-request-id': 'sse-1' }), bodyChunks: [body] });
    const dest = ex.setHeaders.get('x-gateway-destination-endpoint');
    expect(dest).toBe(idleId);
    // While the response streams, the request holds its lease and its in-flight ticket.
    expect(h.server.flowControl.stats().inflight).toBe(1);
    expect(h.server.inflight.totalRequests()).toBe(1);

    const upstream = await request(`http://${dest}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'sse-1' },
      body: ex.body,
    });
    expect(upstream.headers['content-type']).toMatch(/text\/event-stream/);
    const fwd = await forwardResponse(ex.stream, upstream);
    expect(fwd.status).toBe(200);
    // Every chunk came back unchanged and in order; only the final (empty) one ends the stream.
    expect(fwd.returned.length).toBe(fwd.sent.length + 1);
    fwd.sent.forEach((chunk, i) => expect(fwd.returned[i]?.body.equals(chunk)).toBe(true));
    expect(fwd.returned.slice(0, -1).every((c) => !c.endOfStream)).toBe(true);
    expect(fwd.returned.at(-1)?.endOfStream).toBe(true);
    // The model server set no x-request-id, so the answer adds ours (if absent) for the client.
    expect(fwd.headerMutations.get('x-request-id')).toBe('sse-1');

    const sse = Buffer.concat(fwd.sent).toString('utf8');
    expect(sse.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const usageLine = sse.split('\n').find((l) => l.startsWith('data:') && l.includes('"usage"') && l.includes('"choices":[]'));
    expect(usageLine).toBeDefined();
    const usage = (JSON.parse(usageLine!.slice(5)) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    expect(usage.completion_tokens).toBe(12);
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    const estimate = Math.ceil(Buffer.byteLength(body) / CHARS_PER_TOKEN) + 12;
    expect(usage.prompt_tokens + usage.completion_tokens).not.toBe(estimate); // so the check below tells them apart

    ex.stream.end();
    expect((await streamStatus(ex.stream)).code).toBe(0);
    await waitForIdle(h.server);
    const text = await h.server.registry.metrics();
    // The actual usage, not the estimate, is what the tenant is charged.
    expect(metricValue(text, 'fairway_tenant_served_tokens_total', { fairness_id: tenant }) - before).toBe(
      usage.prompt_tokens + usage.completion_tokens,
    );
  });

  it('reads usage from a non-streaming JSON response too', async () => {
    const tenant = 'tenant-json';
    const body = completionBody({ max_tokens: 6, ignore_eos: true });
    const ex = await h.client.sendRequest({ headers: inferenceHeaders(tenant), bodyChunks: [body] });
    const dest = ex.setHeaders.get('x-gateway-destination-endpoint');
    const generatedId = ex.setHeaders.get('x-request-id') ?? '';
    const upstream = await request(`http://${dest}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': generatedId },
      body: ex.body,
    });
    const fwd = await forwardResponse(ex.stream, upstream);
    const json = JSON.parse(Buffer.concat(fwd.returned.map((c) => c.body)).toString('utf8')) as {
      model: string;
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    expect(json.model).toBe(TEST_MODEL);
    expect(json.usage.completion_tokens).toBe(6);
    ex.stream.end();
    await waitForIdle(h.server);
    await waitFor('the served tokens of tenant-json', async () => {
      const text = await h.server.registry.metrics();
      return metricValue(text, 'fairway_tenant_served_tokens_total', { fairness_id: tenant }) === json.usage.prompt_tokens + 6;
    });
  });
});

describe('a request stream broken after routing', () => {
  it('releases the lease and the in-flight ticket when Envoy resets the stream mid-response', async () => {
    const ex = await h.client.sendRequest({ headers: inferenceHeaders('tenant-reset'), bodyChunks: [completionBody()] });
    expect(ex.immediate).toBeUndefined();
    expect(h.server.inflight.totalRequests()).toBe(1);
    ex.stream.sendResponseHeaders(200, { 'content-type': 'application/json' }, false);
    await ex.stream.expectNext();
    ex.stream.cancel();
    await waitForIdle(h.server);
  });
});

