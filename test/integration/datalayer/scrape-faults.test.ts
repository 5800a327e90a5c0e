// Misbehaving metrics endpoints against real HTTP(S) servers on 127.0.0.1 ephemeral ports: each fault marks its
// own endpoint stale with its reason (snapshot, counter, one log line per change) while a good endpoint scraped
// beside it stays fresh; backoff, recovery, no overlap, HTTPS and bearer tokens.
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../../src/core/index.js';
import {
  type EndpointSnapshot,
  type HttpMetricsFetcherOptions,
  type ScrapeFailureReason,
  PoolMonitor,
  StaticEndpointSource,
} from '../../../src/datalayer/index.js';
import { generateSelfSignedCertificate } from '../../../src/extproc/index.js';
import { RecordingLogger } from '../../unit/datalayer/fakes.js';
import { type Handler, LoopbackServer, waitFor } from './loopback-server.js';

const GOOD = `# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="m"} 2
vllm:num_requests_running{model_name="m"} 5
vllm:kv_cache_usage_perc{model_name="m"} 0.4
`;

class TestServer extends LoopbackServer {
  constructor(tls?: { cert: string; key: string }) {
    super((_req, res) => res.end(GOOD), tls);
  }
}

const servers: TestServer[] = [];
const monitors: PoolMonitor[] = [];

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler?: Handler, tls?: { cert: string; key: string }): Promise<TestServer> {
  const s = await new TestServer(tls).listen();
  if (handler !== undefined) s.handler = handler;
  servers.push(s);
  return s;
}

function monitorFor(
  list: TestServer[],
  options: { fetch?: HttpMetricsFetcherOptions; timeoutMs?: number; maxBackoffMs?: number; onFailure?: (unreachable: boolean) => void } = {},
) {
  const failures: { id: string; reason: ScrapeFailureReason }[] = [];
  const logger = new RecordingLogger();
  const monitor = new PoolMonitor({
    source: new StaticEndpointSource(list.map((s) => ({ host: '127.0.0.1', port: s.port }))),
    clock: new SystemClock(),
    logger,
    scrapeIntervalMs: 20,
    // Generous: on a busy machine a good endpoint must not time out beside a flooding one.
    scrapeTimeoutMs: options.timeoutMs ?? 1_000,
    staleAfterMs: 2_000,
    maxBackoffMs: options.maxBackoffMs ?? 200,
    observer: { onScrapeFailure: (id, reason) => failures.push({ id, reason }) },
    ...(options.onFailure !== undefined ? { scrapeListener: { markScraped: () => undefined, scrapeFailed: (_id: string, unreachable: boolean) => options.onFailure?.(unreachable) } } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
  });
  monitors.push(monitor);
  const endpoint = (s: TestServer): EndpointSnapshot | undefined => monitor.pool.current().endpoints.find((e) => e.port === s.port);
  return { monitor, failures, logger, endpoint };
}

/** Starts `bad` beside a good server; waits until bad has failed with `reason` three times; checks good is fresh. */
async function expectFault(bad: TestServer, reason: ScrapeFailureReason, options: Parameters<typeof monitorFor>[1] = {}) {
  const good = await serve();
  const m = monitorFor([good, bad], options);
  await m.monitor.start();
  const badId = `127.0.0.1:${bad.port}`;
  await waitFor(`three ${reason} failures`, () => m.failures.filter((f) => f.id === badId && f.reason === reason).length >= 3);
  expect(m.endpoint(bad)).toMatchObject({ stale: true, scrapeFailure: { reason } });
  expect(m.failures.filter((f) => f.id !== badId)).toEqual([]);
  const goodScrapes = good.requests;
  await waitFor('good endpoint keeps being scraped', () => good.requests >= goodScrapes + 3);
  expect(m.endpoint(good)).toMatchObject({ stale: false, metrics: { waitingQueue: 2 } });
  expect(m.endpoint(good)?.scrapeFailure).toBeUndefined();
  // One warning for the bad endpoint's one reason, however many scrapes failed.
  expect(m.logger.entries.filter((e) => e.level === 'warn' && e.msg === 'metrics scrape failing')).toHaveLength(1);
  return m;
}

describe('scrape faults, each on its own endpoint beside a good one', () => {
  it('a 10 MB page fails with too-large, without buffering it (content-length known)', async () => {
    const huge = Buffer.alloc(10 * 1024 * 1024, 'x');
    const bad = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': huge.length });
      res.end(huge);
    });
    await expectFault(bad, 'too-large');
  });

  it('an endless page (chunked, no length) fails with too-large once past the limit', async () => {
    const block = Buffer.from(`${GOOD}${'# filler\n'.repeat(7000)}`);
    const bad = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const write = (): void => {
        while (!res.destroyed && res.write(block));
        if (!res.destroyed) res.once('drain', write);
      };
      write();
    });
    await expectFault(bad, 'too-large', { fetch: { maxBodyBytes: 256 * 1024 }, timeoutMs: 2_000 });
  });

  it("a slowloris page (a byte every 50 ms, never done) fails with slow: late metrics, not an unreachable pod", async () => {
    const bad = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('#'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const unreachable: boolean[] = [];
    const m = await expectFault(bad, 'slow', { timeoutMs: 150, onFailure: (u) => unreachable.push(u) });
    expect(bad.maxActive).toBe(1); // never two scrapes at once, even while one hangs
    expect(m.endpoint(bad)?.metrics).toBeUndefined();
    expect(unreachable.length).toBeGreaterThan(0);
    expect(unreachable.every((u) => !u)).toBe(true);
  });

  it('a page that never starts (headers never sent) on an accepted connection fails with silent, not unreachable', async () => {
    const bad = await serve(() => undefined);
    const unreachable: boolean[] = [];
    await expectFault(bad, 'silent', { timeoutMs: 150, onFailure: (u) => unreachable.push(u) });
    expect(unreachable.every((u) => !u)).toBe(true);
  });

  it('a connection that never completes (TLS handshake unanswered) fails with timeout, unreachable, without waiting for the connect timeout', async () => {
    // Accepts TCP and never speaks: undici has no connection until the handshake completes (its own connect
    // timeout is 10 s; the scrape must give up at its timeout and count the endpoint unreachable).
    const mute = createNetServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      const port = (mute.address() as AddressInfo).port;
      const unreachable: boolean[] = [];
      const failures: ScrapeFailureReason[] = [];
      const monitor = new PoolMonitor({
        source: new StaticEndpointSource([{ host: '127.0.0.1', port }]),
        clock: new SystemClock(),
        logger: new RecordingLogger(),
        scrapeIntervalMs: 20,
        scrapeTimeoutMs: 150,
        staleAfterMs: 2_000,
        maxBackoffMs: 100,
        fetch: { scheme: 'https', tls: { insecureSkipVerify: true } },
        observer: { onScrapeFailure: (_id, reason) => failures.push(reason) },
        scrapeListener: { markScraped: () => undefined, scrapeFailed: (_id, u) => void unreachable.push(u) },
      });
      monitors.push(monitor);
      await monitor.start();
      // Three scrapes that each end at the scrape timeout; waiting on the connect instead would take 30 s.
      await waitFor('three timeout failures', () => failures.filter((r) => r === 'timeout').length >= 3, 8_000);
      expect(failures.every((r) => r === 'timeout')).toBe(true);
      expect(unreachable.every((u) => u)).toBe(true);
    } finally {
      mute.close();
    }
  });

  it('binary garbage fails with garbage', async () => {
    const bad = await serve((_req, res) => res.end(Buffer.from([0, 1, 2, 255, 10, 60, 104, 116, 109, 108, 62, 10, 0, 0, 10])));
    await expectFault(bad, 'garbage');
  });

  it('an HTML page fails with wrong-type (content type)', async () => {
    const bad = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<html>${GOOD}</html>`);
    });
    await expectFault(bad, 'wrong-type');
  });

  it('a metric in use declared as a histogram fails with wrong-type', async () => {
    const bad = await serve((_req, res) =>
      res.end(GOOD.replace('# TYPE vllm:num_requests_waiting gauge', '# TYPE vllm:num_requests_waiting histogram')),
    );
    await expectFault(bad, 'wrong-type');
  });

  it('a negative value fails with invalid-value, a page without the metrics with missing-metric', async () => {
    const negative = await serve((_req, res) => res.end(GOOD.replace('} 2', '} -2')));
    await expectFault(negative, 'invalid-value');
    const empty = await serve((_req, res) => res.end('# nothing here\nprocess_open_fds 12\n'));
    await expectFault(empty, 'missing-metric');
  });

  it('a closed port fails with connect, a 503 with http-status', async () => {
    const closed = await serve();
    await closed.close();
    servers.splice(servers.indexOf(closed), 1);
    await expectFault(closed, 'connect');
    const unavailable = await serve((_req, res) => {
      res.statusCode = 503;
      res.end('overloaded');
    });
    await expectFault(unavailable, 'http-status');
  });
});

describe('a page late past the timeout', () => {
  it('keeps its connection: the late page is read off and the next scrape goes out on the same connection', async () => {
    let held: (() => void) | undefined;
    const server = await serve((_req, res) => {
      if (server.requests === 1) held = () => res.end(GOOD); // answered once the scrape has timed out
      else res.end(GOOD);
    });
    let connections = 0;
    server.server.on('connection', () => connections++);
    const m = monitorFor([server], {
      // Long enough that a loaded host reads the released page well within the next scrape's timeout.
      timeoutMs: 2_000,
      // The late page is released as soon as its scrape is reported failed, well within the next one's timeout.
      onFailure: () => {
        held?.();
        held = undefined;
      },
    });
    await m.monitor.start();
    await waitFor('fresh after the late page', () => m.endpoint(server)?.stale === false);
    const after = server.requests;
    await waitFor('scraping goes on', () => server.requests >= after + 3);
    expect(m.failures.map((f) => f.reason)).toEqual(['silent']); // not a byte came before the timeout
    expect(connections).toBe(1);
    expect(server.maxActive).toBe(1);
  });
});

describe('backoff and recovery', () => {
  it('a failing endpoint is tried less and less often, and is fresh again at its first good answer', async () => {
    const server = await serve((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const m = monitorFor([server], { maxBackoffMs: 400 });
    await m.monitor.start();
    await waitFor('backed off to the cap', () => server.requests >= 6);
    const before = server.requests;
    const t0 = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    // Attempts are now at least 200 ms apart (half the 400 ms cap, at the lowest jitter), against 20 ms at the
    // interval. Bounded by the time that really passed: on a loaded machine the sleep itself runs long.
    const elapsed = Date.now() - t0;
    expect(server.requests - before).toBeLessThanOrEqual(Math.floor(elapsed / 200) + 2);
    expect(m.logger.lines('warn')).toHaveLength(1);
    server.handler = (_req, res) => res.end(GOOD);
    const recoveredFrom = server.requests;
    // Requests served when the endpoint was first published fresh again: the first good answer is enough.
    let freshAfter: number | undefined;
    m.monitor.pool.subscribe((snapshot) => {
      if (freshAfter === undefined && snapshot.endpoints[0]?.stale === false) freshAfter = server.requests;
    });
    await waitFor('fresh again', () => m.endpoint(server)?.stale === false);
    expect(freshAfter).toBe(recoveredFrom + 1);
    expect(m.endpoint(server)?.scrapeFailure).toBeUndefined();
    expect(m.logger.lines('info')).toEqual(['metrics scrape recovered']);
    // Back at the normal interval at once: the exact schedule is checked with a manual clock in the scraper's
    // unit test; here only that scraping goes on.
    const after = server.requests;
    await waitFor('scraping goes on', () => server.requests >= after + 5);
  });

  it('logs once per change of reason, not once per failed scrape', async () => {
    let mode: 'status' | 'garbage' = 'status';
    const server = await serve((_req, res) => {
      if (mode === 'status') {
        res.statusCode = 500;
        res.end();
      } else {
        res.end('\u0000\u0000\n');
      }
    });
    const m = monitorFor([server], { maxBackoffMs: 40 });
    await m.monitor.start();
    await waitFor('several 500s', () => m.failures.length >= 5);
    mode = 'garbage';
    await waitFor('several garbage pages', () => m.failures.filter((f) => f.reason === 'garbage').length >= 5);
    const warnings = m.logger.entries.filter((e) => e.level === 'warn').map((e) => (e.obj as { reason?: string }).reason);
    expect(warnings).toEqual(['http-status', 'garbage']);
  });
});

describe('secured model servers', () => {
  const tls = generateSelfSignedCertificate({ ipAddresses: ['127.0.0.1'] });

  it('scrapes over HTTPS verifying with the configured CA; without it the endpoint fails with tls', async () => {
    const server = await serve(undefined, tls);
    const trusted = monitorFor([server], { fetch: { scheme: 'https', tls: { ca: tls.cert } } });
    await trusted.monitor.start();
    await waitFor('fresh over https', () => trusted.endpoint(server)?.stale === false);
    expect(trusted.endpoint(server)?.metrics?.runningRequests).toBe(5);

    const untrusted = monitorFor([server], { fetch: { scheme: 'https' } });
    await untrusted.monitor.start();
    await waitFor('tls failure', () => untrusted.failures.some((f) => f.reason === 'tls'));
    expect(untrusted.endpoint(server)).toMatchObject({ stale: true, scrapeFailure: { reason: 'tls' } });
  });

  it('insecureSkipVerify scrapes a self-signed server without its CA', async () => {
    const server = await serve(undefined, tls);
    const m = monitorFor([server], { fetch: { scheme: 'https', tls: { insecureSkipVerify: true } } });
    await m.monitor.start();
    await waitFor('fresh over https', () => m.endpoint(server)?.stale === false);
  });

  it('sends the bearer token; a server refusing without it fails with http-status', async () => {
    const seen: (string | undefined)[] = [];
    const server = await serve((req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== 'Bearer s3cret') {
        res.statusCode = 401;
        res.end();
        return;
      }
      res.end(GOOD);
    });
    const without = monitorFor([server]);
    await without.monitor.start();
    await waitFor('401 seen', () => without.failures.some((f) => f.reason === 'http-status'));
    await without.monitor.close();
    let token = 's3cret';
    const withToken = monitorFor([server], { fetch: { bearerToken: () => token } });
    await withToken.monitor.start();
    await waitFor('fresh with token', () => withToken.endpoint(server)?.stale === false);
    token = 'rotated';
    await waitFor('rotated token sent', () => seen.includes('Bearer rotated'));
  });
});
