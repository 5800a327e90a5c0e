// ext_proc with a fallback: Envoy tried the primary, the fallback served, and Envoy reports it in
// `x-gateway-destination-endpoint-served` on the response path. The request's in-flight count moves to the
// fallback while it runs (so saturation and scoring see the load where it is), leaves nothing behind when it
// ends, and is counted in fairway_fallback_served_total.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServiceHarness,
  completionBody,
  inferenceHeaders,
  metricValue,
  startService,
  waitFor,
  waitForScrape,
} from '../../support/service-harness.js';

let h: ServiceHarness;

beforeAll(async () => {
  h = await startService({ replicas: 2, config: { scheduler: { fallbackEndpoints: 1 } } });
  await waitForScrape(h.server, h.ids, (e) => e.metrics?.waitingQueue === 0);
});

afterAll(async () => {
  await h?.close();
});

describe('ext_proc: the endpoint that really served', () => {
  it('moves the in-flight count to the fallback Envoy reports, and counts it', async () => {
    const ex = await h.client.sendRequest({ headers: inferenceHeaders('served-tenant'), bodyChunks: [completionBody()] });
    const list = ex.setHeaders.get('x-gateway-destination-endpoint') ?? '';
    const [primary, fallback] = list.split(',') as [string, string];
    expect(fallback).toBeDefined();
    expect(h.server.inflight.load(primary).requests).toBe(1);
    ex.stream.sendResponseHeaders(200, { 'content-type': 'application/json' }, false, {
      'envoy.lb': { 'x-gateway-destination-endpoint-served': fallback },
    });
    await ex.stream.expectNext();
    await waitFor('the in-flight count on the fallback', () => h.server.inflight.load(fallback).requests === 1, 2_000);
    expect(h.server.inflight.load(primary).requests).toBe(0);
    ex.stream.sendResponseBody('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}', true);
    await ex.stream.expectNext();
    await waitFor('the request to end', () => h.server.inflight.load(fallback).requests === 0, 2_000);
    expect(metricValue(await h.server.registry.metrics(), 'fairway_fallback_served_total')).toBe(1);
    ex.stream.end();
  });

  it('changes nothing when the primary served', async () => {
    const ex = await h.client.sendRequest({ headers: inferenceHeaders('served-tenant'), bodyChunks: [completionBody()] });
    const [primary] = (ex.setHeaders.get('x-gateway-destination-endpoint') ?? '').split(',') as [string];
    const r = await ex.stream.sendResponse({ metadata: { 'envoy.lb': { 'x-gateway-destination-endpoint-served': primary } }, bodyChunks: ['{}'] });
    expect(r.responses.length).toBeGreaterThan(0);
    await waitFor('the request to end', () => h.server.inflight.load(primary).requests === 0, 2_000);
    expect(metricValue(await h.server.registry.metrics(), 'fairway_fallback_served_total')).toBe(1);
    ex.stream.end();
  });
});
