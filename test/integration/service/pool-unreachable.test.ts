// The whole pool down (every model server refusing connections) must not hang requests for their full TTL: after
// pool.unreachableAfterMs with no endpoint answering, queued and new requests get 503 pool-unreachable at once,
// through both front ends, counted and shown on /readyz (which stays 200); an endpoint that answers again resumes
// routing at once. Frozen pods (connections accepted, not a byte sent back within the scrape timeout, on every
// endpoint) do the same after the longer pool.unresponsiveAfterMs. Metrics that are merely bad (a pod up, its
// /metrics failing) or late (answered past the scrape timeout) keep the old behaviour: hold.
import { type Server as HttpServer, createServer } from 'node:http';
import { type AddressInfo, type Server, type Socket, createServer as createTcpServer } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { noopLogger } from '../../../src/core/index.js';
import { FairwayServer } from '../../../src/server/index.js';
import { SimServer } from '../../../src/simulator/index.js';
import {
  type ServiceHarness,
  TEST_MODEL,
  completionBody,
  endpointIn,
  inferenceHeaders,
  metricValue,
  startService,
  waitFor,
  waitForScrape,
} from '../../support/service-harness.js';

const UNREACHABLE_AFTER_MS = 600;
const dispatcher = new Agent({ connections: 8 });

interface Answer {
  readonly status: number;
  readonly reason: string | undefined;
  readonly retryAfter: string | undefined;
  readonly ms: number;
}

async function viaProxy(port: number, headers: Record<string, string> = {}): Promise<Answer> {
  const t0 = Date.now();
  const res = await request(`http://127.0.0.1:${port}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gateway-inference-fairness-id': 'down', ...headers },
    body: completionBody({ max_tokens: 2 }),
    dispatcher,
  });
  await res.body.text();
  const header = (name: string): string | undefined => {
    const v = res.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  return { status: res.statusCode, reason: header('x-fairway-drop-reason'), retryAfter: header('retry-after'), ms: Date.now() - t0 };
}

async function adminGet(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { dispatcher });
  return { status: res.statusCode, text: await res.body.text() };
}

describe('every model server down', () => {
  let h: ServiceHarness;
  let revived: SimServer | undefined;

  beforeAll(async () => {
    h = await startService({ replicas: 2, proxy: true, config: { pool: { unreachableAfterMs: UNREACHABLE_AFTER_MS } } });
    await waitForScrape(h.server, h.ids, () => true);
  });

  afterAll(async () => {
    await revived?.close();
    await h?.close();
  });

  it('answers queued and new requests 503 pool-unreachable instead of holding them for their TTL, then resumes when a pod answers', async () => {
    await Promise.all(h.pool.simulators.map((s) => s.close()));
    // Failed scrapes mark both endpoints stale at once: from here a request is held (saturated), not routed.
    await waitFor('both endpoints stale', () => h.ids.every((id) => endpointIn(h.server, id)?.stale === true), 5_000);
    expect(h.server.availability?.note()).toBeUndefined();

    // Queued while the pool is merely "not answering yet": no TTL header, so before this fix it waited 60 s.
    const queued = viaProxy(h.ports.proxy as number);
    await waitFor('the request to be queued or answered', () => h.server.flowControl.stats().queuedRequests > 0 || h.server.availability?.note() !== undefined, 5_000, 2);
    const q = await queued;
    expect(q).toMatchObject({ status: 503, reason: 'pool-unreachable', retryAfter: '5' });
    expect(q.ms).toBeLessThan(10_000);

    // New requests, both front ends: answered at once.
    const fresh = await viaProxy(h.ports.proxy as number, { 'x-gateway-inference-objective': 'critical' });
    expect(fresh).toMatchObject({ status: 503, reason: 'pool-unreachable', retryAfter: '5' });
    expect(fresh.ms).toBeLessThan(20_000); // at once, not after the 60 s TTL (a bound, not a timing check)
    const ex = await h.client.sendRequest({ headers: inferenceHeaders('down'), bodyChunks: [completionBody({ max_tokens: 2 })] });
    ex.stream.end();
    expect(ex.immediate?.status).toBe(503);
    expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('pool-unreachable');
    expect(JSON.parse(ex.immediate?.body ?? '{}')).toMatchObject({ error: { code: 'pool-unreachable' } });

    const metrics = await h.server.registry.metrics();
    expect(metricValue(metrics, 'fairway_shed_requests_total', { reason: 'pool-unreachable', status: '503' })).toBe(3);
    expect(metricValue(metrics, 'fairway_pool_reachable')).toBe(0);
    expect(metricValue(metrics, 'inference_pool_ready_pods')).toBe(0);
    expect(metricValue(metrics, 'fairway_pool_endpoints')).toBe(2);
    // Readiness stays green (a restart or another replica cannot reach the pool either) and says why requests fail.
    const ready = await adminGet(h.ports.metrics, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.text).toMatch(/^ready\nno endpoint of the pool \(2\) has answered for 600 ms/);

    // One pod comes back on its old address: routing resumes as soon as a scrape answers.
    const [host, port] = [h.pool.servers[0]!.host, h.pool.servers[0]!.port];
    revived = new SimServer({ host, port, profile: 'ci', model: TEST_MODEL });
    await revived.start();
    await waitFor('the revived pod to answer a scrape', () => endpointIn(h.server, h.ids[0]!)?.stale === false, 5_000);
    expect(h.server.availability?.note()).toBeUndefined();
    const back = await viaProxy(h.ports.proxy as number);
    expect(back.status).toBe(200);
    expect(metricValue(await h.server.registry.metrics(), 'fairway_pool_reachable')).toBe(1);
    expect((await adminGet(h.ports.metrics, '/readyz')).text).toBe('ready\n');
  });
});

/**
 * A FairwayServer in front of the one pod `pod` (listened on here), calling the pool unreachable after 200 ms of
 * refused connections; `pool` adds settings.
 */
async function serveOnePod(pod: Server, pool: Record<string, unknown> = {}): Promise<FairwayServer> {
  await new Promise<void>((resolve) => pod.listen(0, '127.0.0.1', resolve));
  const { port } = pod.address() as AddressInfo;
  return new FairwayServer(
    validateConfig({
      pool: { endpoints: [{ host: '127.0.0.1', port }], unreachableAfterMs: 200, ...pool },
      saturation: { detector: 'hybrid' },
      server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0, proxyPort: 0, shutdownGraceMs: 500 },
      logging: { level: 'silent' },
    }),
    { logger: noopLogger },
  );
}

describe('a pod up with failing metrics (late or broken metrics, not an unreachable pool)', () => {
  let pod: HttpServer;
  let server: FairwayServer;
  let ports: { proxy: number | undefined };

  beforeAll(async () => {
    // Answers every scrape with HTTP 500: the pod is there, its metrics are not.
    pod = createServer((_req, res) => res.writeHead(500).end('metrics unavailable'));
    server = await serveOnePod(pod);
    ports = await server.start();
  });

  afterAll(async () => {
    await server?.shutdown(200);
    await new Promise<void>((resolve) => pod.close(() => resolve()));
  });

  it('holds requests as before (they expire with ttl), and never calls the pool unreachable', async () => {
    await new Promise<void>((resolve) => setTimeout(resolve, 400)); // twice unreachableAfterMs of failing scrapes
    const answer = await viaProxy(ports.proxy as number, { 'x-fairway-request-ttl-ms': '800' });
    expect(answer).toMatchObject({ status: 429, reason: 'ttl' });
    expect(server.availability?.note()).toBeUndefined();
    expect(metricValue(await server.registry.metrics(), 'fairway_pool_reachable')).toBe(1);
  });
});

describe('pods up whose metrics pages answer later than the scrape timeout (stale metrics, not a frozen pool)', () => {
  const UNRESPONSIVE_AFTER_MS = 1_000;
  let pod: HttpServer;
  let server: FairwayServer;
  let ports: { proxy: number | undefined };

  beforeAll(async () => {
    // Accepts every connection; /metrics answers after 300 ms, past the scrape timeout (200 ms: the staleness
    // limit); inference answers at once. Before late answers counted as answers, these pods made the pool
    // "unreachable" after unreachableAfterMs (scrape timeouts were refusals), then "unresponsive" after
    // unresponsiveAfterMs (a late page was a frozen pod), and every request got 503.
    pod = createServer((req, res) => {
      if (req.url?.startsWith('/metrics') === true) {
        setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('# a late page\n'), 300);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[{"text":"ok"}]}');
    });
    server = await serveOnePod(pod, { unresponsiveAfterMs: UNRESPONSIVE_AFTER_MS });
    ports = await server.start();
  });

  afterAll(async () => {
    await server?.shutdown(200);
    pod?.closeAllConnections();
    await new Promise<void>((resolve) => pod.close(() => resolve()));
  });

  it("counts their scrapes as late ('slow'), keeps the pool reachable well past unresponsiveAfterMs, and never answers pool-unreachable", async () => {
    const late = async (): Promise<number> =>
      metricValue(await server.registry.metrics(), 'fairway_metrics_scrape_failures_total', { reason: 'slow' });
    await waitFor('a late scrape', async () => (await late()) > 0, 10_000);
    // Late scrapes for more than three times unresponsiveAfterMs (a lower bound on the time waited, not a timing
    // check), the verdict looked at all along.
    const firstSeen = Date.now();
    const before = await late();
    let notes = 0;
    await waitFor(
      'more late scrapes, over three times unresponsiveAfterMs',
      async () => {
        if (server.availability?.note() !== undefined) notes++;
        return (await late()) > before + 3 && Date.now() - firstSeen > 3 * UNRESPONSIVE_AFTER_MS;
      },
      15_000,
    );
    expect(notes).toBe(0);
    const metrics = await server.registry.metrics();
    expect(metricValue(metrics, 'fairway_metrics_scrape_failures_total', { reason: 'timeout' })).toBe(0);
    expect(metricValue(metrics, 'fairway_pool_reachable')).toBe(1);
    expect(server.availability?.note()).toBeUndefined();
    // Stale metrics hold the request (the gate fails closed) until its TTL, as for any late metrics.
    const answer = await viaProxy(ports.proxy as number, { 'x-fairway-request-ttl-ms': '600' });
    expect(answer).toMatchObject({ status: 429, reason: 'ttl' });
    expect(metricValue(await server.registry.metrics(), 'fairway_shed_requests_total', { reason: 'pool-unreachable' })).toBe(0);
  });
});

describe('frozen pods: connections accepted, nothing answered (pool.unresponsiveAfterMs)', () => {
  const UNRESPONSIVE_AFTER_MS = 1_000;
  let pod: Server;
  const sockets = new Set<Socket>();
  let server: FairwayServer;
  let ports: { proxy: number | undefined; metrics: number };
  let revived: SimServer | undefined;

  beforeAll(async () => {
    // The kernel completes the handshake of a stopped (SIGSTOP) or hung process: here, a listener that accepts and
    // never writes a byte. Every scrape ends 'silent' (connected, not a byte within the timeout), never 'timeout'.
    pod = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    server = await serveOnePod(pod, { unresponsiveAfterMs: UNRESPONSIVE_AFTER_MS });
    ports = await server.start();
  });

  afterAll(async () => {
    await server?.shutdown(200);
    await revived?.close();
    for (const socket of sockets) socket.destroy();
    if (pod.listening) await new Promise<void>((resolve) => pod.close(() => resolve()));
  });

  it('answers a queued request 503 pool-unreachable after unresponsiveAfterMs instead of its TTL, new ones at once, and routes again when the pod answers', async () => {
    const id = `127.0.0.1:${(pod.address() as AddressInfo).port}`;
    const silent = async (): Promise<number> =>
      metricValue(await server.registry.metrics(), 'fairway_metrics_scrape_failures_total', { reason: 'silent' });
    // Queued under the default 60 s TTL (the gate is shut: the only endpoint has no metrics yet), then answered by
    // the verdict a second after the first silent scrape.
    const pending = viaProxy(ports.proxy as number);
    await waitFor('the request to be queued', () => server.flowControl.stats().queuedRequests === 1, 10_000, 2);
    const queued = await pending;
    expect(await silent()).toBeGreaterThan(0);
    expect(queued).toMatchObject({ status: 503, reason: 'pool-unreachable', retryAfter: '5' });
    const fresh = await viaProxy(ports.proxy as number);
    expect(fresh).toMatchObject({ status: 503, reason: 'pool-unreachable' });
    const metrics = await server.registry.metrics();
    expect(metricValue(metrics, 'fairway_metrics_scrape_failures_total', { reason: 'timeout' })).toBe(0);
    expect(metricValue(metrics, 'fairway_metrics_scrape_failures_total', { reason: 'connect' })).toBe(0);
    expect(metricValue(metrics, 'fairway_metrics_scrape_failures_total', { reason: 'slow' })).toBe(0);
    expect(metricValue(metrics, 'fairway_shed_requests_total', { reason: 'pool-unreachable', status: '503' })).toBe(2);
    expect(metricValue(metrics, 'fairway_pool_reachable')).toBe(0);
    const ready = await adminGet(ports.metrics, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.text).toMatch(/^ready\nno endpoint of the pool \(1\) has answered for 1000 ms \(connections refused, or accepted with not a byte back within the scrape timeout/);

    // The pod comes back (restarted on its address): the first answered scrape resumes holding and routing.
    const port = (pod.address() as AddressInfo).port;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => pod.close(() => resolve()));
    revived = new SimServer({ host: '127.0.0.1', port, profile: 'ci', model: TEST_MODEL });
    await revived.start();
    await waitFor('the revived pod to answer a scrape', () => endpointIn(server, id)?.stale === false, 10_000);
    expect(server.availability?.note()).toBeUndefined();
    expect((await viaProxy(ports.proxy as number)).status).toBe(200);
    expect(metricValue(await server.registry.metrics(), 'fairway_pool_reachable')).toBe(1);
  });
});
