// Session affinity end to end through both front ends: the response carries a token naming the endpoint that
// served; a request sending it back goes to that endpoint (while it has headroom), and the token follows the
// conversation when a fallback served instead.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSessionToken } from '../../../src/scheduler/index.js';
import { type ServiceHarness, completionBody, inferenceHeaders, startService, waitForScrape } from '../../support/service-harness.js';

let h: ServiceHarness;
const dispatcher = new Agent({ connections: 4 });

beforeAll(async () => {
  h = await startService({
    replicas: 2,
    proxy: true,
    config: {
      scheduler: {
        fallbackEndpoints: 1,
        profile: {
          filters: [{ type: 'saturation-filter' }],
          scorers: [
            { type: 'queue-scorer', weight: 1 },
            { type: 'session-affinity-scorer', weight: 10 },
          ],
          picker: { type: 'max-score-picker' },
        },
      },
    },
  });
  await waitForScrape(h.server, h.ids, (e) => e.metrics?.waitingQueue === 0);
});

afterAll(async () => {
  await dispatcher.close();
  await h?.close();
});

describe('session-affinity-scorer through the proxy', () => {
  it('issues a token naming the endpoint that served, and keeps every later turn there', async () => {
    const send = async (token?: string): Promise<string> => {
      const res = await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token !== undefined ? { 'x-session-token': token } : {}) },
        body: completionBody({ max_tokens: 2 }),
        dispatcher,
      });
      await res.body.text();
      expect(res.statusCode).toBe(200);
      return String(res.headers['x-session-token']);
    };
    const first = await send();
    expect([encodeSessionToken(h.ids[0] as string), encodeSessionToken(h.ids[1] as string)]).toContain(first);
    // Both endpoints are idle and tie on queue: only the token keeps the conversation in one place.
    for (const id of h.ids) {
      const token = encodeSessionToken(id);
      for (let turn = 0; turn < 6; turn++) expect(await send(token)).toBe(token);
      // A token of the first format (base64 of host:port, issued before the hashed ones) keeps its session too,
      // and the answer carries the new token.
      expect(await send(Buffer.from(id).toString('base64'))).toBe(token);
    }
    expect(first).not.toContain(Buffer.from(h.ids[0] as string).toString('base64'));
  });
});

describe('session-affinity-scorer through ext_proc', () => {
  it('routes to the endpoint the token names and returns its token on the response headers', async () => {
    const target = h.ids[1] as string;
    const ex = await h.client.sendRequest({
      headers: inferenceHeaders('session-tenant', undefined, { 'x-session-token': encodeSessionToken(target) }),
      bodyChunks: [completionBody()],
    });
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')?.split(',')[0]).toBe(target);
    const r = await ex.stream.sendResponse({ bodyChunks: ['{}'] });
    expect(r.setHeaders.get('x-session-token')).toBe(encodeSessionToken(target));
    ex.stream.end();
  });

  it('names the fallback in the token when Envoy reports that the fallback served', async () => {
    const ex = await h.client.sendRequest({
      headers: inferenceHeaders('session-tenant', undefined, { 'x-session-token': encodeSessionToken(h.ids[0] as string) }),
      bodyChunks: [completionBody()],
    });
    const [primary, fallback] = (ex.setHeaders.get('x-gateway-destination-endpoint') ?? '').split(',') as [string, string];
    expect(primary).toBe(h.ids[0]);
    const r = await ex.stream.sendResponse({ metadata: { 'envoy.lb': { 'x-gateway-destination-endpoint-served': fallback } }, bodyChunks: ['{}'] });
    expect(r.setHeaders.get('x-session-token')).toBe(encodeSessionToken(fallback));
    ex.stream.end();
  });
});
