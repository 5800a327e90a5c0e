// The standalone proxy carrying out in-flight evictions, with a real HTTP client and a fake model server whose
// responses the test releases step by step: what the client gets, what the model server sees, what is reported.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type StartedResponseEviction } from '../../../src/gateway/index.js';
import { ProxyServer } from '../../../src/proxy/index.js';
import { RoutesEvictably } from '../../support/fake-request-handlers.js';
import { waitFor } from '../../support/service-harness.js';

/** Answers /json after `release()`, and /sse one event per `release()`; records requests closed before their end. */
class SteppedUpstream {
  readonly closedEarly: string[] = [];
  readonly arrived: string[] = [];
  private releases: (() => void)[] = [];
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

  release(): void {
    this.releases.shift()?.();
  }

  get waiting(): number {
    return this.releases.length;
  }

  private step(): Promise<void> {
    return new Promise((resolve) => this.releases.push(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for await (const _ of req);
    res.on('close', () => {
      if (!res.writableFinished) this.closedEarly.push(req.url ?? '');
    });
    this.arrived.push(req.url ?? '');
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      for (const part of ['data: {"n":1}\n\n', 'data: {"n":2}\n\n', 'data: [DONE]\n\n']) {
        await this.step();
        if (res.destroyed) return;
        res.write(part);
      }
      res.end();
      return;
    }
    await this.step();
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

const upstream = new SteppedUpstream();
const client = new Agent({ keepAliveTimeout: 10 });
const proxies: ProxyServer[] = [];

beforeAll(() => upstream.start());
afterAll(async () => {
  await client.close();
  await upstream.close();
});
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close(100);
  while (upstream.waiting > 0) upstream.release();
  upstream.closedEarly.length = 0;
  upstream.arrived.length = 0;
});

async function proxy(handler: RoutesEvictably, startedResponseEviction?: StartedResponseEviction): Promise<string> {
  const p = new ProxyServer({ handler, ...(startedResponseEviction === undefined ? {} : { startedResponseEviction }) });
  proxies.push(p);
  const { port } = await p.start({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${port}`;
}

const BODY = JSON.stringify({ model: 'm', prompt: 'hi' });

describe('ProxyServer in-flight eviction', () => {
  it('before any byte: closes the upstream request and answers 429 evicted with Retry-After; the observer ends once', async () => {
    const handler = new RoutesEvictably(upstream.endpoint);
    const base = await proxy(handler);
    const pending = request(`${base}/json`, { method: 'POST', body: BODY, dispatcher: client });
    await waitFor('the model server to get the request', () => upstream.arrived.includes('/json'));
    expect(handler.evict()).toBe(true);
    const res = await pending;
    expect(res.statusCode).toBe(429);
    expect(res.headers['x-fairway-drop-reason']).toBe('evicted');
    expect(res.headers['retry-after']).toBe('1');
    expect(await res.body.json()).toMatchObject({ error: { code: 'evicted', type: 'rate_limit_error' } });
    await waitFor('the model server to see its connection closed', () => upstream.closedEarly.includes('/json'));
    expect(handler.lastObserver().ends).toEqual(['evicted']);
  });

  it('holds an evictable stream\'s headers until its first event: evicted before it, the client still gets a clean 429', async () => {
    const handler = new RoutesEvictably(upstream.endpoint);
    const base = await proxy(handler);
    const pending = request(`${base}/sse`, { method: 'POST', body: BODY, dispatcher: client });
    // The model server has answered 200 headers, but no event yet.
    await waitFor('the model server to start the stream', () => upstream.waiting === 1);
    expect(handler.evict()).toBe(true);
    const res = await pending;
    expect(res.statusCode).toBe(429);
    await res.body.text();
    await waitFor('the upstream stream closed', () => upstream.closedEarly.includes('/sse'));
  });

  it('a started stream ends with an OpenAI-style error event and [DONE] (default `end`), upstream closed', async () => {
    const handler = new RoutesEvictably(upstream.endpoint);
    const base = await proxy(handler);
    const pending = request(`${base}/sse`, { method: 'POST', body: BODY, dispatcher: client });
    await waitFor('the model server to start the stream', () => upstream.waiting === 1);
    upstream.release();
    const res = await pending;
    expect(res.statusCode).toBe(200);
    const text = res.body.text();
    await waitFor('the first event relayed', () => handler.lastObserver().chunks.length === 1);
    expect(handler.evict()).toBe(true);
    const events = (await text).split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events[0]).toBe('data: {"n":1}');
    expect(JSON.parse(events[1]!.slice(6))).toMatchObject({ error: { code: 'evicted', message: 'evicted for priority 10 work' } });
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events).toHaveLength(3);
    await waitFor('the upstream stream closed', () => upstream.closedEarly.includes('/sse'));
    expect(handler.lastObserver().ends).toEqual(['evicted']);
  });

  it('under `spare`, a started stream is declined and runs to its end', async () => {
    const handler = new RoutesEvictably(upstream.endpoint);
    const base = await proxy(handler, 'spare');
    const pending = request(`${base}/sse`, { method: 'POST', body: BODY, dispatcher: client });
    await waitFor('the model server to start the stream', () => upstream.waiting === 1);
    upstream.release();
    const res = await pending;
    const text = res.body.text();
    await waitFor('the first event relayed', () => handler.lastObserver().chunks.length === 1);
    expect(handler.evict()).toBe(false);
    upstream.release();
    await waitFor('the second event', () => upstream.waiting === 1);
    upstream.release();
    expect(await text).toBe('data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n');
    expect(await handler.lastObserver().ended).toBe('complete');
    expect(upstream.closedEarly).toEqual([]);
  });

  it('never reports as evicted a request whose response finished before the eviction landed', async () => {
    const handler = new RoutesEvictably(upstream.endpoint);
    const base = await proxy(handler);
    const pending = request(`${base}/json`, { method: 'POST', body: BODY, dispatcher: client });
    await waitFor('the model server to get the request', () => upstream.waiting === 1);
    upstream.release();
    const res = await pending;
    expect(await res.body.json()).toEqual({ ok: true });
    expect(await handler.lastObserver().ended).toBe('complete');
    expect(handler.evict()).toBe(false);
    expect(handler.lastObserver().ends).toEqual(['complete']);
  });
});
