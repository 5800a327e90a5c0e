// Malformed control headers and oversized request headers, through both front ends of a real server: each gets a
// 4xx with the drop reason and the same OpenAI-style JSON error body, and is counted; none is served as if the
// header were absent, and none gets a bare status line or a reset connection.
import { connect } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServiceHarness,
  completionBody,
  inferenceHeaders,
  metricValue,
  startService,
  waitForIdle,
  waitForScrape,
} from '../../support/service-harness.js';

const MAX_HEADER_BYTES = 16 * 1024;
let h: ServiceHarness;
const dispatcher = new Agent({ connections: 4 });

beforeAll(async () => {
  h = await startService({ replicas: 1, proxy: true, config: { server: { maxHeaderBytes: MAX_HEADER_BYTES } } });
  await waitForScrape(h.server, h.ids, () => true);
});

afterAll(async () => {
  await dispatcher.close();
  await h?.close();
});

interface ErrorJson {
  readonly error: { readonly message: string; readonly type: string; readonly code: string };
}

interface Answer {
  readonly status: number;
  readonly reason: string | undefined;
  readonly json: ErrorJson | undefined;
}

async function viaProxy(headers: Record<string, string>): Promise<Answer> {
  const res = await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: completionBody({ max_tokens: 2 }),
    dispatcher,
  });
  const text = await res.body.text();
  const reason = res.headers['x-fairway-drop-reason'];
  return { status: res.statusCode, reason: typeof reason === 'string' ? reason : undefined, json: res.statusCode === 200 ? undefined : (JSON.parse(text) as ErrorJson) };
}

async function viaExtProc(headers: Record<string, string>): Promise<Answer> {
  const ex = await h.client.sendRequest({ headers: inferenceHeaders('malformed', undefined, headers), bodyChunks: [completionBody({ max_tokens: 2 })] });
  ex.stream.end();
  if (ex.immediate === undefined) return { status: 200, reason: undefined, json: undefined };
  return { status: ex.immediate.status, reason: ex.immediate.headers.get('x-fairway-drop-reason'), json: JSON.parse(ex.immediate.body) as ErrorJson };
}

const frontEnds = [
  ['proxy', viaProxy],
  ['ext_proc', viaExtProc],
] as const;

describe.each(frontEnds)('through %s', (_name, send) => {
  it.each([
    ['x-fairway-request-ttl-ms', 'abc'],
    ['x-fairway-request-ttl-ms', '-1'],
    ['x-fairway-ttft-slo-ms', '1e400'],
    ['x-gateway-inference-fairness-id', 't'.repeat(300)],
  ])('answers 400 bad-header for %s (%#)', async (name, value) => {
    const answer = await send({ [name]: value });
    expect(answer.status).toBe(400);
    expect(answer.reason).toBe('bad-header');
    expect(answer.json?.error).toMatchObject({ type: 'invalid_request_error', code: 'bad-header' });
    expect(answer.json?.error.message).toContain(name);
    await waitForIdle(h.server);
  });

  it('serves a well-formed TTL and treats an empty one as absent', async () => {
    expect((await send({ 'x-fairway-request-ttl-ms': '30000' })).status).toBe(200);
    expect((await send({ 'x-fairway-request-ttl-ms': '' })).status).toBe(200);
    await waitForIdle(h.server);
  });

  it.each([20_000, 100_000])('answers 431 header-too-large with the JSON error for a %d-byte header', async (size) => {
    const answer = await send({ 'x-big': 'a'.repeat(size) });
    expect(answer.status).toBe(431);
    expect(answer.reason).toBe('header-too-large');
    expect(answer.json?.error).toMatchObject({ code: 'header-too-large', message: `request headers exceed ${MAX_HEADER_BYTES} bytes` });
  });
});

describe('accounting', () => {
  it('counts the bad-header refusals by reason', async () => {
    const text = await h.server.registry.metrics();
    expect(metricValue(text, 'fairway_shed_requests_total', { reason: 'bad-header', status: '400' })).toBe(8);
  });

  it('answers a malformed HTTP request on the proxy with the JSON error, not a bare status line', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(h.ports.proxy ?? 0, '127.0.0.1');
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
      socket.write('NOT-HTTP \x01\r\n\r\n');
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toMatch(/x-fairway-drop-reason: bad-request/);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'bad-request' } });
  });
});
