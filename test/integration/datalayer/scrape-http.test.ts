// The scraper against real HTTP servers on 127.0.0.1 ephemeral ports: bad pages and a hanging server make
// only their own endpoint stale; endpoints come and go without leaking sockets.
import { type Server, type ServerResponse, createServer } from 'node:http';
import { type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../../src/core/index.js';
import {
  type EndpointSnapshot,
  HttpMetricsFetcher,
  PoolMonitor,
  StaticEndpointSource,
} from '../../../src/datalayer/index.js';
import { LoopbackListener, waitFor } from './loopback-server.js';

type Behaviour = 'ok' | 'garbage' | 'missing' | 'nan' | 'hang' | 'status500';

const GOOD = `# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="m"} 2
vllm:num_requests_running{model_name="m"} 5
vllm:kv_cache_usage_perc{model_name="m"} 0.4
vllm:cache_config_info{block_size="16",num_gpu_blocks="1000"} 1
`;

class MetricsServer extends LoopbackListener<Server> {
  behaviour: Behaviour = 'ok';
  requests = 0;
  connections = 0;
  private readonly hanging = new Set<ServerResponse>();
  readonly server: Server;

  constructor() {
    super();
    this.server = createServer((req, res) => {
      this.requests++;
      switch (this.behaviour) {
        case 'ok':
          res.end(GOOD);
          return;
        case 'garbage':
          res.end('\u0000\u0001<html>definitely {{ not metrics\n');
          return;
        case 'missing':
          res.end('vllm:num_requests_running 1\n');
          return;
        case 'nan':
          res.end(GOOD.replace('} 2', '} NaN'));
          return;
        case 'status500':
          res.statusCode = 500;
          res.end('boom');
          return;
        case 'hang':
          this.hanging.add(res); // never answers
          return;
      }
    });
    this.server.on('connection', (socket: Socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  override async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    await super.close();
  }
}

const servers: MetricsServer[] = [];
const monitors: PoolMonitor[] = [];

async function startServers(behaviours: Behaviour[]): Promise<MetricsServer[]> {
  const started = await Promise.all(
    behaviours.map(async (b) => {
      const s = await new MetricsServer().listen();
      s.behaviour = b;
      return s;
    }),
  );
  servers.push(...started);
  return started;
}

function monitorFor(list: MetricsServer[]): { monitor: PoolMonitor; source: StaticEndpointSource } {
  const source = new StaticEndpointSource(list.map((s) => ({ host: '127.0.0.1', port: s.port })));
  const monitor = new PoolMonitor({
    source,
    clock: new SystemClock(),
    scrapeIntervalMs: 20,
    scrapeTimeoutMs: 200,
    staleAfterMs: 2_000,
  });
  monitors.push(monitor);
  return { monitor, source };
}

function endpoint(monitor: PoolMonitor, server: MetricsServer): EndpointSnapshot | undefined {
  return monitor.pool.current().endpoints.find((e) => e.port === server.port);
}

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('scraping real HTTP servers', () => {
  it('bad pages and a hanging server make only their own endpoint stale; the good one keeps updating', async () => {
    const list = await startServers(['ok', 'garbage', 'missing', 'nan', 'status500', 'hang']);
    const [good, ...bad] = list;
    const { monitor } = monitorFor(list);
    await monitor.start();
    await waitFor('good endpoint scraped', () => endpoint(monitor, good!)?.stale === false);
    await waitFor('bad endpoints tried', () => bad.every((s) => s.requests >= 1));
    // The hanging endpoint must have timed out at least once, and the good one kept being scraped meanwhile.
    const goodBefore = good!.requests;
    await waitFor('hanging scrape timed out twice', () => bad[4]!.requests >= 2);
    expect(good!.requests).toBeGreaterThan(goodBefore);
    for (const s of bad) {
      const e = endpoint(monitor, s);
      expect(e?.stale).toBe(true);
      expect(e?.metrics).toBeUndefined();
    }
    expect(endpoint(monitor, good!)).toMatchObject({
      stale: false,
      metrics: { waitingQueue: 2, runningRequests: 5, kvCacheUsage: 0.4, kvBlockSize: 16, kvNumBlocks: 1000 },
    });
  });

  it('a server that starts hanging goes stale and recovers when it answers again', async () => {
    const [server] = await startServers(['ok']);
    const { monitor } = monitorFor([server!]);
    await monitor.start();
    await waitFor('fresh', () => endpoint(monitor, server!)?.stale === false);
    server!.behaviour = 'hang';
    await waitFor('stale after timeout', () => endpoint(monitor, server!)?.stale === true);
    expect(endpoint(monitor, server!)?.metrics?.waitingQueue).toBe(2); // last good metrics kept for diagnosis
    server!.behaviour = 'ok';
    await waitFor('fresh again', () => endpoint(monitor, server!)?.stale === false);
  });

  it('reuses one keep-alive connection across scrapes', async () => {
    const [server] = await startServers(['ok']);
    const { monitor } = monitorFor([server!]);
    await monitor.start();
    await waitFor('ten scrapes', () => server!.requests >= 10);
    expect(server!.connections).toBe(1);
  });

  it('adding and removing endpoints at runtime opens and closes exactly their sockets', async () => {
    const [a, b, c] = await startServers(['ok', 'ok', 'hang']);
    const { monitor, source } = monitorFor([a!]);
    await monitor.start();
    await waitFor('a scraped', () => a!.requests >= 2);
    source.set([a!, b!, c!].map((s) => ({ host: '127.0.0.1', port: s.port })));
    await waitFor('b and c connected', () => b!.requests >= 2 && c!.sockets.size === 1);
    source.set([{ host: '127.0.0.1', port: a!.port }]);
    await waitFor('b and c sockets closed', () => b!.sockets.size === 0 && c!.sockets.size === 0);
    expect(monitor.pool.current().endpoints.map((e) => e.port)).toEqual([a!.port]);
    const bRequests = b!.requests;
    await waitFor('a scraped 5 more times', () => a!.requests >= bRequests + 5 || a!.requests >= 20);
    expect(b!.requests).toBe(bRequests); // no scrape after removal
    await monitor.close();
    await waitFor('a socket closed', () => a!.sockets.size === 0);
  });
});

describe('HttpMetricsFetcher', () => {
  it('rejects an oversized page and a non-200 status with coded errors, keeping the connection for the next call', async () => {
    const [server] = await startServers(['ok']);
    const fetcher = new HttpMetricsFetcher({ host: '127.0.0.1', port: server!.port, path: '/metrics' }, { maxBodyBytes: 64 });
    try {
      const sink = { push: () => true };
      await expect(fetcher.fetch(new AbortController().signal, sink)).rejects.toMatchObject({ code: 'ERR_SCRAPE', reason: 'too-large' });
      server!.behaviour = 'status500';
      await expect(fetcher.fetch(new AbortController().signal, sink)).rejects.toThrow('HTTP status 500');
      await expect(fetcher.fetch(new AbortController().signal, sink)).rejects.toMatchObject({ reason: 'http-status' });
      expect(server!.requests).toBe(3);
    } finally {
      await fetcher.close();
    }
    await waitFor('socket closed', () => server!.sockets.size === 0);
  });
});
