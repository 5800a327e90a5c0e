// Asking model servers for the families in use only (`name[]`), against real HTTP servers on 127.0.0.1: the
// filtered request goes out and a small page comes back from the simulator (which filters as prometheus_client
// does); a server ignoring the filter, one answering it with an empty page (a multiprocess registry), one
// refusing the query and a filtered page without LoRA info all leave the endpoint fresh with the right values.
import { type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../../src/core/index.js';
import {
  type EndpointSnapshot,
  type EngineName,
  type ScrapeFailureReason,
  PoolMonitor,
  StaticEndpointSource,
  VLLM_METRICS,
  familiesOf,
} from '../../../src/datalayer/index.js';
import { type SimulatedPool, startSimulatedPool } from '../../../src/simulator/index.js';
import { requestedNames, restrictExposition } from '../../../src/simulator/name-filter.js';
import { RecordingLogger } from '../../unit/datalayer/fakes.js';
import { type Handler, LoopbackServer, waitFor } from './loopback-server.js';

/** A vLLM-like page: the families in use, LoRA info, cache geometry, and a histogram and counter around them. */
const PAGE = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 5
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="m"} 2
# HELP vllm:kv_cache_usage_perc KV-cache usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="m"} 0.4
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{model_name="m"} 12345
# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{le="1.0",model_name="m"} 3
vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="m"} 4
vllm:e2e_request_latency_seconds_count{model_name="m"} 4
vllm:e2e_request_latency_seconds_sum{model_name="m"} 2.5
# HELP vllm:lora_requests_info Running stats on lora requests.
# TYPE vllm:lora_requests_info gauge
vllm:lora_requests_info{max_lora="4",running_lora_adapters="sql",waiting_lora_adapters=""} 1.7e+09
# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",num_gpu_blocks="1000"} 1.0
`;

const WITHOUT_LORA = PAGE.replace(/# HELP vllm:lora_requests_info[^\n]*\n[^\n]*\n[^\n]*\n/, '');

/** Answers as prometheus_client does: the page restricted to the sample names asked for, or all of it. */
function honouring(page: string): Handler {
  return (req, res) => {
    const names = requestedNames(req.url ?? '/');
    res.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    res.end(names === undefined ? page : restrictExposition(page, names));
  };
}

class RecordingServer extends LoopbackServer {
  readonly urls: string[] = [];

  constructor(handler: Handler) {
    super((req: IncomingMessage, res) => {
      this.urls.push(req.url ?? '');
      this.current(req, res);
    });
    this.current = handler;
  }

  current: Handler;
}

const servers: LoopbackServer[] = [];
const monitors: PoolMonitor[] = [];
const pools: SimulatedPool[] = [];

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

async function serve(handler: Handler): Promise<RecordingServer> {
  const s = await new RecordingServer(handler).listen();
  servers.push(s);
  return s;
}

function monitorFor(port: number, options: { nameFilter?: 'auto' | 'on' | 'off'; engine?: EngineName } = {}) {
  const failures: ScrapeFailureReason[] = [];
  const logger = new RecordingLogger();
  const monitor = new PoolMonitor({
    source: new StaticEndpointSource([{ host: '127.0.0.1', port, ...(options.engine !== undefined ? { engine: options.engine } : {}) }]),
    clock: new SystemClock(),
    logger,
    scrapeIntervalMs: 20,
    scrapeTimeoutMs: 1_000,
    staleAfterMs: 2_000,
    observer: { onScrapeFailure: (_id, reason) => failures.push(reason) },
    ...(options.nameFilter !== undefined ? { nameFilter: options.nameFilter } : {}),
  });
  monitors.push(monitor);
  const endpoint = (): EndpointSnapshot | undefined => monitor.pool.current().endpoints[0];
  return { monitor, failures, logger, endpoint };
}

/** The `name[]` values of each recorded request (undefined: the whole page was asked for). */
function askedFor(urls: readonly string[]): (readonly string[] | undefined)[] {
  return urls.map((u) => {
    const names = requestedNames(u);
    return names === undefined ? undefined : [...names].sort();
  });
}

const IN_USE = [...familiesOf(VLLM_METRICS)].sort();
const TRT_PAGE = 'trtllm_num_requests_waiting 1\ntrtllm_num_requests_running 2\ntrtllm_kv_cache_utilization 0.5\n';

describe('asking for the families in use (name[])', () => {
  it('the simulator answers name[] with the families asked for only, and a vLLM endpoint scraped from it is fresh', async () => {
    const pool = await startSimulatedPool({ replicas: 1, model: 'llama', loras: ['sql'], seed: 5 });
    pools.push(pool);
    const sim = pool.servers[0]!;
    pool.simulators[0]!.setFakeMetrics({ waiting: 3, running: 2, kvUsage: 0.25 });
    const m = monitorFor(sim.port);
    await m.monitor.start();
    await waitFor('fresh metrics', () => m.endpoint()?.stale === false && m.endpoint()?.metrics?.waitingQueue === 3);
    expect(m.endpoint()?.metrics).toMatchObject({ waitingQueue: 3, runningRequests: 2, kvCacheUsage: 0.25, maxLora: 4 });
    expect(m.failures).toEqual([]);
    // What such a request gets: the families in use, nothing of the histograms and counters around them.
    const query = IN_USE.map((n) => `name%5B%5D=${n}`).join('&');
    const filtered = await (await fetch(`http://${sim.id}/metrics?${query}`)).text();
    const whole = await (await fetch(`http://${sim.id}/metrics`)).text();
    const sampleNames = new Set(filtered.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(/[{ ]/, 1)[0]));
    expect([...sampleNames].sort()).toEqual(['vllm:cache_config_info', 'vllm:kv_cache_usage_perc', 'vllm:lora_requests_info', 'vllm:num_requests_running', 'vllm:num_requests_waiting']);
    expect(filtered).toContain('# TYPE vllm:num_requests_waiting gauge');
    expect(whole).toContain('vllm:time_to_first_token_seconds_bucket');
    expect(filtered.length * 5).toBeLessThan(whole.length);
  });

  it('sends name[] for every family in use to a vLLM endpoint by default; a server ignoring it sends the whole page, read as usual, one request per scrape', async () => {
    const server = await serve((_req, res) => res.end(PAGE));
    const m = monitorFor(server.port);
    await m.monitor.start();
    await waitFor('five scrapes', () => server.urls.length >= 5);
    expect(m.endpoint()).toMatchObject({ stale: false, metrics: { waitingQueue: 2, runningRequests: 5, kvCacheUsage: 0.4, maxLora: 4, loraRunning: ['sql'], kvBlockSize: 16 } });
    expect(m.failures).toEqual([]);
    // Every request named the families in use (none was repeated whole: the page had them all).
    expect(askedFor(server.urls).every((names) => JSON.stringify(names) === JSON.stringify(IN_USE))).toBe(true);
  });

  it('a filtered page without the LoRA family is not an error: fresh, no LoRA adapters, no second request', async () => {
    const server = await serve(honouring(WITHOUT_LORA));
    const m = monitorFor(server.port);
    await m.monitor.start();
    await waitFor('five scrapes', () => server.urls.length >= 5);
    expect(m.endpoint()).toMatchObject({ stale: false, metrics: { waitingQueue: 2, loraRunning: [], maxLora: 0, kvBlockSize: 16 } });
    expect(m.failures).toEqual([]);
    expect(askedFor(server.urls).every((names) => names !== undefined)).toBe(true);
  });

  it('a refused credential (401, 403) or a rate limit (429) is not asked again whole: one filtered request per attempt', async () => {
    for (const status of [401, 403, 429]) {
      const server = await serve((_req, res) => {
        res.statusCode = status;
        res.end();
      });
      const m = monitorFor(server.port);
      await m.monitor.start();
      await waitFor(`three failures (${status})`, () => m.failures.length >= 3);
      await m.monitor.close();
      expect(m.failures.every((r) => r === 'http-status')).toBe(true);
      // At most one request may still be unanswered when the monitor stops; a whole-page retry would double them.
      expect(server.urls.length - m.failures.length).toBeLessThanOrEqual(1);
      expect(askedFor(server.urls).every((names) => names !== undefined)).toBe(true);
    }
  });

  it('a 4xx to both the filtered and the whole page (a wrong path: 404) rests the filter: one whole-page request per attempt after the first', async () => {
    const server = await serve((_req, res) => {
      res.statusCode = 404;
      res.end('not found');
    });
    const m = monitorFor(server.port);
    await m.monitor.start();
    await waitFor('four failures', () => m.failures.length >= 4);
    await m.monitor.close();
    expect(m.failures.every((r) => r === 'http-status')).toBe(true);
    // The first attempt asked filtered, then whole; every later one whole only (at most one still unanswered).
    expect(askedFor(server.urls.slice(0, 2))).toEqual([IN_USE, undefined]);
    expect(server.urls.slice(2).every((u) => u === '/metrics')).toBe(true);
    expect(server.urls.length - (m.failures.length + 1)).toBeLessThanOrEqual(1);
  });

  it('an empty filtered page (a multiprocess registry) is asked for again whole in the same scrape, and the filter rests', async () => {
    // prometheus_client's MultiProcessCollector registers no names, so a restricted registry yields nothing.
    const server = await serve((req, res) => res.end(requestedNames(req.url ?? '/') === undefined ? PAGE : ''));
    const m = monitorFor(server.port);
    const published: boolean[] = [];
    m.monitor.pool.subscribe((s) => {
      const e = s.endpoints[0];
      if (e !== undefined && e.metrics !== undefined) published.push(e.stale);
    });
    await m.monitor.start();
    await waitFor('six requests', () => server.urls.length >= 6);
    const asked = askedFor(server.urls);
    // First the filtered request, then the whole page right after it, then the whole page only.
    expect(asked[0]).toEqual(IN_USE);
    expect(asked.slice(1)).toEqual(asked.slice(1).map(() => undefined));
    expect(m.failures).toEqual([]);
    expect(published.every((stale) => !stale)).toBe(true);
    expect(m.endpoint()).toMatchObject({ stale: false, metrics: { waitingQueue: 2, maxLora: 4 } });
    expect(m.logger.lines('info')).toEqual(['filtered metrics page (name[]) lacked families the whole page has; asking for the whole page']);
    expect(m.logger.lines('warn')).toEqual([]);
  });

  it('a refused query (HTTP 400) is asked for again whole; a server error (500) is not', async () => {
    const refusing = await serve((req, res) => {
      if (requestedNames(req.url ?? '/') === undefined) res.end(PAGE);
      else {
        res.statusCode = 400;
        res.end('unknown query parameter');
      }
    });
    const m = monitorFor(refusing.port);
    await m.monitor.start();
    await waitFor('fresh', () => m.endpoint()?.stale === false);
    expect(m.failures).toEqual([]);
    expect(askedFor(refusing.urls.slice(0, 2))).toEqual([IN_USE, undefined]);

    const broken = await serve((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const b = monitorFor(broken.port);
    await b.monitor.start();
    await waitFor('three failures', () => b.failures.length >= 3);
    expect(b.failures.every((r) => r === 'http-status')).toBe(true);
    // One request per attempt, each filtered: a 5xx says nothing about the query. The server counts a request when
    // it arrives and the scraper a failure when it ends, so once stopped at most one request may be unanswered.
    await b.monitor.close();
    expect(broken.urls.length - b.failures.length).toBeGreaterThanOrEqual(0);
    expect(broken.urls.length - b.failures.length).toBeLessThanOrEqual(1);
    expect(askedFor(broken.urls).every((names) => names !== undefined)).toBe(true);
  });

  it('a server routing only the exact path to its metrics (JSON for the filtered target) is asked again whole', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/metrics') res.end(PAGE);
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[]}');
    });
    const m = monitorFor(server.port);
    await m.monitor.start();
    await waitFor('four requests', () => server.urls.length >= 4);
    expect(m.failures).toEqual([]);
    expect(m.endpoint()).toMatchObject({ stale: false, metrics: { waitingQueue: 2 } });
    expect(askedFor(server.urls.slice(0, 4))).toEqual([IN_USE, undefined, undefined, undefined]);
  });

  it('a family missing from the whole page too is a missing-metric failure, and the endpoint is stale', async () => {
    const page = PAGE.replace(/vllm:num_requests_waiting\{[^\n]*\n/, '');
    const server = await serve(honouring(page));
    const m = monitorFor(server.port);
    await m.monitor.start();
    await waitFor('two failures', () => m.failures.length >= 2);
    expect(m.failures.every((r) => r === 'missing-metric')).toBe(true);
    expect(m.endpoint()).toMatchObject({ stale: true, scrapeFailure: { reason: 'missing-metric' } });
    // The first attempt: the filtered page, then the whole one; the whole page failing too rests the filter, so the
    // next attempt asks for the whole page only (two requests an attempt for as long as it fails would buy nothing).
    expect(askedFor(server.urls.slice(0, 3))).toEqual([IN_USE, undefined, undefined]);
  });

  it('asks for the whole page with nameFilter off, and for SGLang and TensorRT-LLM endpoints under auto', async () => {
    const cases = [
      { what: 'nameFilter off', page: PAGE, options: { nameFilter: 'off' }, waiting: 2 },
      { what: 'TensorRT-LLM under auto', page: TRT_PAGE, options: { engine: 'trtllm' }, waiting: 1 },
      // SGLang serves a multiprocess registry, whose filtered page is empty: auto never asks it to filter.
      { what: 'SGLang under auto', page: 'sglang:num_queue_reqs 3\nsglang:num_running_reqs 2\nsglang:token_usage 0.25\n', options: { engine: 'sglang' }, waiting: 3 },
    ] as const;
    for (const c of cases) {
      const server = await serve((_req, res) => res.end(c.page));
      const m = monitorFor(server.port, c.options);
      await m.monitor.start();
      await waitFor(`three scrapes (${c.what})`, () => server.urls.length >= 3);
      expect(m.endpoint()).toMatchObject({ stale: false, metrics: { waitingQueue: c.waiting } });
      expect(server.urls.every((u) => u === '/metrics')).toBe(true);
    }

    const forced = await serve((_req, res) => res.end(TRT_PAGE));
    const f = monitorFor(forced.port, { engine: 'trtllm', nameFilter: 'on' });
    await f.monitor.start();
    await waitFor('a scrape', () => forced.urls.length >= 1);
    expect(askedFor(forced.urls.slice(0, 1))).toEqual([['trtllm_kv_cache_utilization', 'trtllm_num_requests_running', 'trtllm_num_requests_waiting']]);
  });
});
