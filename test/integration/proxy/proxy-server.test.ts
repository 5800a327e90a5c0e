// The standalone proxy with a real HTTP client, against a tiny fake model server on 127.0.0.1.
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RequestHandler } from '../../../src/gateway/index.js';
import { ProxyServer } from '../../../src/proxy/index.js';
import {
  rejectsWith,
  rewritesBody,
  routesToFixedEndpoint,
  throwsError,
  waitsUntilAborted,
} from '../../support/fake-request-handlers.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** Fake model server: /sse streams chunks on demand; /hang never answers; anything else echoes JSON. */
class FakeUpstream {
  readonly seen: Seen[] = [];
  readonly closedEarly: string[] = [];
  sseRelease: (() => void)[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
    res.on('close', () => {
      if (!res.writableFinished) this.closedEarly.push(req.url ?? '');
    });
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-upstream': 'yes' });
      res.flushHeaders();
      for (const part of ['data: {"n":1}\n\n', 'data: {"n":2}\n\n', 'data: [DONE]\n\n']) {
        await new Promise<void>((resolve) => this.sseRelease.push(resolve));
        if (res.destroyed) return;
        res.write(part);
      }
      res.end();
      return;
    }
    if (req.url === '/hang') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive' });
    res.end(JSON.stringify({ ok: true, length: Buffer.concat(chunks).length }));
  }

  releaseNext(): void {
    this.sseRelease.shift()?.();
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

const upstream = new FakeUpstream();
const client = new Agent({ keepAliveTimeout: 10 });
const proxies: ProxyServer[] = [];

beforeAll(() => upstream.start());
afterAll(async () => {
  await client.close();
  await upstream.close();
});
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close(100);
  upstream.seen.length = 0;
  upstream.closedEarly.length = 0;
});

async function proxy(
  handler: RequestHandler,
  maxBodyBytes?: number,
  extra: { trustSubsetHeader?: boolean; connectAttempts?: number } = {},
): Promise<string> {
  const p = new ProxyServer({ handler, ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }), ...extra });
  proxies.push(p);
  const { port } = await p.start({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${port}`;
}

const BODY = JSON.stringify({ model: 'm', prompt: 'hi' });

describe('ProxyServer', () => {
  it('forwards the body unchanged with extra headers and relays the response; the observer sees it all once', async () => {
    const handler = routesToFixedEndpoint(upstream.endpoint, { setHeaders: { 'x-extra': '1' } });
    const base = await proxy(handler);
    const res = await request(`${base}/v1/completions?x=1`, {
      method: 'POST',
      body: BODY,
      headers: { 'content-type': 'application/json', 'x-request-id': 'abc' },
      dispatcher: client,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('abc');
    expect(await res.body.json()).toEqual({ ok: true, length: BODY.length });
    const seen = upstream.seen[0]!;
    expect(seen.url).toBe('/v1/completions?x=1');
    expect(seen.body.toString()).toBe(BODY);
    expect(seen.headers['x-extra']).toBe('1');
    expect(seen.headers['x-request-id']).toBe('abc');
    expect(seen.headers['content-length']).toBe(String(BODY.length));
    const req = handler.lastRequest();
    expect(req.path).toBe('/v1/completions?x=1');
    expect(req.headers.get('content-type')).toBe('application/json');
    const obs = handler.lastObserver();
    expect(await obs.ended).toBe('complete');
    expect(obs.status).toBe(200);
    expect(obs.served).toBe(upstream.endpoint);
    expect(JSON.parse(obs.body())).toEqual({ ok: true, length: BODY.length });
    expect(obs.ends).toEqual(['complete']);
  });

  it('streams SSE chunk by chunk: the client sees each event before the next is produced', async () => {
    const handler = routesToFixedEndpoint(upstream.endpoint);
    const base = await proxy(handler);
    const res = await request(`${base}/sse`, { method: 'POST', body: BODY, dispatcher: client });
    expect(res.headers['content-type']).toBe('text/event-stream');
    const it = res.body[Symbol.asyncIterator]();
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      await expect.poll(() => upstream.sseRelease.length).toBe(1);
      upstream.releaseNext();
      const step: IteratorResult<unknown> = await it.next();
      got.push(Buffer.from(step.value as Buffer).toString());
    }
    expect(got).toEqual(['data: {"n":1}\n\n', 'data: {"n":2}\n\n', 'data: [DONE]\n\n']);
    expect((await it.next()).done).toBe(true);
    const obs = handler.lastObserver();
    expect(await obs.ended).toBe('complete');
    expect(obs.chunks.map((c) => c.toString())).toEqual(got);
  });

  it('falls back to the next endpoint on a connect error', async () => {
    const dead = new FakeUpstream();
    await dead.start();
    const deadEndpoint = dead.endpoint;
    await dead.close(); // nothing listens there now
    const handler = routesToFixedEndpoint([deadEndpoint, upstream.endpoint]);
    const base = await proxy(handler);
    const res = await request(`${base}/v1/completions`, { method: 'POST', body: BODY, dispatcher: client });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(handler.lastObserver().served).toBe(upstream.endpoint);
  });

  it('tries at most connectAttempts candidates, reports each failed connection, and asks the handler for that many', async () => {
    const dead: string[] = [];
    for (let i = 0; i < 3; i++) {
      const d = new FakeUpstream();
      await d.start();
      dead.push(d.endpoint);
      await d.close();
    }
    const handler = routesToFixedEndpoint([...dead, upstream.endpoint]);
    const bounded = await proxy(handler, undefined, { connectAttempts: 2 });
    const refused = await request(`${bounded}/v1/completions`, { method: 'POST', body: BODY, dispatcher: client });
    expect(refused.statusCode).toBe(503);
    await refused.body.text();
    expect(handler.lastRequest().endpointCount).toBe(2);
    expect(handler.lastObserver().connectFailures).toEqual([
      { endpoint: dead[0], retrying: true },
      { endpoint: dead[1], retrying: false },
    ]);
    expect(upstream.seen.length).toBe(0);

    const enough = await proxy(handler, undefined, { connectAttempts: 4 });
    const served = await request(`${enough}/v1/completions`, { method: 'POST', body: BODY, dispatcher: client });
    expect(served.statusCode).toBe(200);
    await served.body.text();
    const obs = handler.lastObserver();
    expect(obs.connectFailures.map((f) => f.retrying)).toEqual([true, true, true]);
    expect(obs.served).toBe(upstream.endpoint);
    expect(obs.events.slice(0, 5)).toEqual(['connect-failed', 'connect-failed', 'connect-failed', 'served', 'headers']);
  });

  it('streams a large body upstream as the chunks it received, byte for byte, to the fallback after a refused connection', async () => {
    const dead = new FakeUpstream();
    await dead.start();
    const deadEndpoint = dead.endpoint;
    await dead.close();
    const handler = routesToFixedEndpoint([deadEndpoint, upstream.endpoint]);
    const base = await proxy(handler);
    // 300 KB cannot arrive in one socket read (64 KB at most), and 'é中😀' puts character cuts everywhere.
    const body = Buffer.from(JSON.stringify({ model: 'm', prompt: 'é中😀'.repeat(33_000) }));
    const res = await request(`${base}/v1/completions`, { method: 'POST', body, dispatcher: client });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ ok: true, length: body.length });
    const received = handler.lastRequest().body;
    expect(Buffer.isBuffer(received) ? 1 : received.chunks.length).toBeGreaterThan(1);
    const seen = upstream.seen[0]!;
    expect(seen.headers['content-length']).toBe(String(body.length));
    expect(seen.body.equals(body)).toBe(true);
    expect(handler.lastObserver().connectFailures).toEqual([{ endpoint: deadEndpoint, retrying: true }]);
  });

  it('answers 503 JSON when no endpoint is reachable, and ends the observer aborted', async () => {
    const dead = new FakeUpstream();
    await dead.start();
    const deadEndpoint = dead.endpoint;
    await dead.close();
    const handler = routesToFixedEndpoint(deadEndpoint);
    const base = await proxy(handler);
    const res = await request(`${base}/v1/completions`, { method: 'POST', body: BODY, dispatcher: client });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(await res.body.json()).toMatchObject({ error: { code: 'upstream-unreachable' } });
    expect(handler.lastObserver().ends).toEqual(['aborted']);
  });

  it('rejects with status, drop reason, Retry-After and an OpenAI-style error body', async () => {
    const base = await proxy(rejectsWith({ status: 429, reason: 'capacity', message: 'band full', retryAfterSeconds: 1.2 }));
    const res = await request(`${base}/v1/completions`, { method: 'POST', body: BODY, dispatcher: client });
    expect(res.statusCode).toBe(429);
    expect(res.headers['x-fairway-drop-reason']).toBe('capacity');
    expect(res.headers['retry-after']).toBe('2');
    expect(await res.body.json()).toEqual({ error: { message: 'band full', type: 'rate_limit_error', code: 'capacity' } });
  });

  it('serves a request that carries Expect: 100-continue (curl sends it for large bodies)', async () => {
    const handler = routesToFixedEndpoint(upstream.endpoint);
    const base = await proxy(handler);
    // undici will not send Expect itself, so this client is node:http, as curl would behave.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/v1/completions`, {
        method: 'POST',
        headers: { expect: '100-continue', 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) },
      });
      req.on('continue', () => req.end(BODY));
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    expect(status).toBe(200);
    expect(upstream.seen.at(-1)?.headers['expect']).toBeUndefined();
  });

  it('ignores a client subset hint when the proxy does not trust it', async () => {
    const handler = routesToFixedEndpoint(upstream.endpoint);
    const base = await proxy(handler, undefined, { trustSubsetHeader: false });
    const res = await request(`${base}/v1/completions`, {
      method: 'POST',
      body: BODY,
      headers: { 'x-gateway-destination-endpoint-subset': '10.0.0.1:80' },
      dispatcher: client,
    });
    await res.body.text();
    expect(handler.lastRequest().subsetHint).toBeUndefined();
  });

  it('does not pass the client\'s routing hints (subset, destination) on to the model server, trusted or not', async () => {
    for (const trustSubsetHeader of [true, false]) {
      const base = await proxy(routesToFixedEndpoint(upstream.endpoint), undefined, { trustSubsetHeader });
      const res = await request(`${base}/v1/completions`, {
        method: 'POST',
        body: BODY,
        headers: {
          'x-gateway-destination-endpoint-subset': upstream.endpoint,
          'x-gateway-destination-endpoint': '10.9.9.9:80',
          'x-client-note': 'kept',
        },
        dispatcher: client,
      });
      expect(res.statusCode).toBe(200);
      await res.body.text();
      const seen = upstream.seen.at(-1)?.headers;
      expect(seen?.['x-gateway-destination-endpoint-subset']).toBeUndefined();
      expect(seen?.['x-gateway-destination-endpoint']).toBeUndefined();
      expect(seen?.['x-client-note']).toBe('kept');
    }
  });

  it('parses the subset hint header and generates a request id', async () => {
    const handler = routesToFixedEndpoint(upstream.endpoint);
    const base = await proxy(handler);
    const res = await request(`${base}/v1/completions`, {
      method: 'POST',
      body: BODY,
      headers: { 'x-gateway-destination-endpoint-subset': '10.0.0.1:80, [fd00::1]:80' },
      dispatcher: client,
    });
    await res.body.text();
    const req = handler.lastRequest();
    expect(req.subsetHint).toEqual(['10.0.0.1:80', '[fd00::1]:80']);
    expect(req.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-request-id']).toBe(req.requestId);
  });

  it('forwards a rewritten body with the right Content-Length', async () => {
    const base = await proxy(rewritesBody(upstream.endpoint, () => Buffer.from('{"model":"other"}')));
    const res = await request(`${base}/v1/completions`, { method: 'POST', body: BODY, dispatcher: client });
    expect(await res.body.json()).toEqual({ ok: true, length: 17 });
    expect(upstream.seen[0]!.headers['content-length']).toBe('17');
  });

  it('answers 413 beyond the body bound without calling the handler', async () => {
    const handler = routesToFixedEndpoint(upstream.endpoint);
    const base = await proxy(handler, 1000);
    const res = await request(`${base}/v1/completions`, { method: 'POST', body: Buffer.alloc(5000), dispatcher: client });
    expect(res.statusCode).toBe(413);
    expect(await res.body.json()).toMatchObject({ error: { code: 'body-too-large' } });
    expect(handler.requests.length).toBe(0);
  });

  it('answers 500 when the handler throws', async () => {
    const base = await proxy(throwsError());
    const res = await request(`${base}/v1/completions`, { method: 'POST', body: BODY, dispatcher: client });
    expect(res.statusCode).toBe(500);
    expect(await res.body.json()).toMatchObject({ error: { type: 'server_error', code: 'internal' } });
  });

  it('aborts the signal when the client disconnects while the handler waits', async () => {
    const handler = waitsUntilAborted('route');
    const base = await proxy(handler);
    const ac = new AbortController();
    const pending = request(`${base}/v1/completions`, { method: 'POST', body: BODY, dispatcher: client, signal: ac.signal });
    const req = await handler.started;
    ac.abort();
    await expect(pending).rejects.toThrow();
    await handler.aborted;
    expect(req.signal.aborted).toBe(true);
    expect(await handler.lastObserver().ended).toBe('aborted');
    expect(upstream.seen.length).toBe(0);
  });

  it('aborts the upstream request and ends the observer when the client leaves mid-stream', async () => {
    const handler = routesToFixedEndpoint(upstream.endpoint);
    const base = await proxy(handler);
    const ac = new AbortController();
    const res = await request(`${base}/hang`, { method: 'POST', body: BODY, dispatcher: client, signal: ac.signal });
    const it = res.body[Symbol.asyncIterator]();
    expect(Buffer.from((await it.next()).value as Buffer).toString()).toBe('data: first\n\n');
    ac.abort();
    expect(await handler.lastObserver().ended).toBe('aborted');
    expect(handler.lastRequest().signal.aborted).toBe(true);
    await expect.poll(() => upstream.closedEarly).toEqual(['/hang']);
  });
});
