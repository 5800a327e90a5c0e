// Data-layer benchmark (issue 14): the cost of reading a realistic vLLM page, and of scraping 10 / 100 / 1,000
// endpoints every 50 ms (also with 10% of them dead or hung), the data layer before issue 14 (a frozen copy in
// ./baseline) beside the current one in the same run. Servers run in a child process so the CPU measured here
// is the scraper's alone; process.cpuUsage counts every thread of this process.
import { type ChildProcess, fork } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SystemClock } from '../../src/core/index.js';
import {
  type ScrapeListener,
  MetricsPageReader,
  PoolMonitor,
  StaticEndpointSource,
  VLLM_METRICS,
  extractEndpointMetrics,
  familiesOf,
  parsePrometheusText,
} from '../../src/datalayer/index.js';
import { PoolMonitor as BaselinePoolMonitor } from './baseline/pool-monitor.js';
import { type PageOptions, vllmMetricsPage } from './vllm-metrics-page.js';

export const DEFAULT_INTERVAL_MS = 50;
const PARSE_MS = 1_200;
const LOOP_TICK_MS = 1;
/** Socket reads deliver a page in chunks of up to 64 KiB; the reader is fed the same way. */
const CHUNK_BYTES = 64 * 1024;

export interface DatalayerBenchOptions {
  /** Measuring window per scrape case. @default 4000 */
  readonly windowMs?: number;
  /** Warm-up before each window (connections, JIT). @default 1500 */
  readonly warmupMs?: number;
  /** Endpoint counts to scrape. @default [10, 100, 1000] */
  readonly sizes?: readonly number[];
}

interface ParseFigures {
  readonly case: string;
  readonly pageBytes: number;
  readonly usPerPage: number;
  readonly mbPerSec: number;
}

function timeIt(fn: () => void): number {
  for (let i = 0; i < 300; i++) fn(); // warm-up (JIT)
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < PARSE_MS) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return ((performance.now() - start) * 1000) / n;
}

function chunks(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += CHUNK_BYTES) out.push(buf.subarray(i, i + CHUNK_BYTES));
  return out;
}

function benchParse(): ParseFigures[] {
  const keep = familiesOf(VLLM_METRICS);
  const reader = new MetricsPageReader({ wanted: keep });
  const figures: ParseFigures[] = [];
  const add = (name: string, page: PageOptions, fn: (body: Buffer[], whole: Buffer) => void): void => {
    const whole = Buffer.from(vllmMetricsPage(page));
    const parts = chunks(whole);
    const us = timeIt(() => fn(parts, whole));
    figures.push({ case: name, pageBytes: whole.length, usPerPage: Number(us.toFixed(1)), mbPerSec: Math.round(whole.length / us) });
  };
  const before = (_parts: Buffer[], whole: Buffer): void => {
    extractEndpointMetrics(parsePrometheusText(whole.toString('utf8'), { only: keep }), VLLM_METRICS);
  };
  const after = (stop: ReadonlySet<string> | undefined) => (parts: Buffer[]): void => {
    reader.begin(stop);
    for (const p of parts) if (!reader.push(p)) break;
    extractEndpointMetrics(reader.finish(), VLLM_METRICS);
  };
  const dynamic = new Set(['vllm:num_requests_waiting', 'vllm:num_requests_running', 'vllm:kv_cache_usage_perc']);
  const withLora = new Set([...dynamic, 'vllm:lora_requests_info']);
  add('before: decode whole page + keep-list parse + extract', {}, before);
  add('after: streaming reader, whole page', {}, after(undefined));
  add('after: early stop, vLLM v1 order with LoRA (LoRA info near the end)', {}, after(withLora));
  add('after: early stop, vLLM v1 order without LoRA', { lora: false }, after(dynamic));
  add('after: early stop, LoRA info right after the gauges', { layout: 'gauges-first' }, after(withLora));
  return figures;
}

/** before: the data layer before issue 14; main / worker: the current one scraping on the dispatch thread or a worker. */
type Impl = 'before' | 'after, main thread' | 'after, worker thread';
const IMPLS: readonly Impl[] = ['before', 'after, main thread', 'after, worker thread'];

interface ScrapeFigures {
  readonly impl: Impl;
  readonly endpoints: number;
  readonly faulty: number;
  readonly scrapesPerSec: number;
  readonly targetScrapesPerSec: number;
  readonly cpuShareOfOneCore: number;
  readonly cpuUsPerScrape: number;
  readonly loopDelayP50Ms: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** Answering endpoints fresh at the end of the window. */
  readonly goodFresh: number;
  /**
   * Good scrapes per answering endpoint during the window: fewest, median, most. When scraping cannot keep up,
   * a fair scheduler keeps these close (everyone scraped less often); an unfair one leaves some near 0.
   */
  readonly perEndpoint: readonly [number, number, number];
  readonly faultyStale: number;
}

async function startServers(good: number, hang: number, dead: number): Promise<{ child: ChildProcess; ports: number[] }> {
  const child = fork(fileURLToPath(new URL('./metrics-servers.js', import.meta.url)), [good, hang, dead].map(String), { stdio: 'inherit' });
  const ports = await new Promise<number[]>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { ports: number[] }).ports));
    child.once('exit', (code) => reject(new Error(`metrics servers exited with ${String(code)}`)));
  });
  return { child, ports };
}

async function benchScrape(impl: Impl, endpoints: number, faulty: number, windowMs: number, warmupMs: number): Promise<ScrapeFigures> {
  const hang = Math.floor(faulty / 2);
  const { child, ports } = await startServers(endpoints - faulty, hang, faulty - hang);
  try {
    return await measureScrape(impl, endpoints, faulty, ports, windowMs, warmupMs);
  } finally {
    child.kill();
  }
}

async function measureScrape(
  impl: Impl,
  endpoints: number,
  faulty: number,
  ports: readonly number[],
  windowMs: number,
  warmupMs: number,
): Promise<ScrapeFigures> {
  let good = 0;
  let counting = false;
  const perEndpoint = new Map<string, number>();
  const listener: ScrapeListener = {
    markScraped: (id) => {
      good++;
      if (counting) perEndpoint.set(id, (perEndpoint.get(id) ?? 0) + 1);
    },
  };
  const options = {
    source: new StaticEndpointSource(ports.map((port) => ({ host: '127.0.0.1', port }))),
    clock: new SystemClock(),
    scrapeIntervalMs: DEFAULT_INTERVAL_MS,
    scrapeListener: listener,
  };
  // Before: the old defaults (1 s timeout, no backoff); after: the current defaults.
  const monitor =
    impl === 'before'
      ? new BaselinePoolMonitor(options)
      : new PoolMonitor({ ...options, scrapeThread: impl === 'after, worker thread' ? 'worker' : 'main' });
  const delay = monitorEventLoopDelay({ resolution: LOOP_TICK_MS });
  try {
    await monitor.start();
    await sleep(warmupMs);
    const goodBefore = good;
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    delay.enable();
    counting = true;
    await sleep(windowMs);
    counting = false;
    delay.disable();
    const cpu = process.cpuUsage(cpuBefore);
    const wall = performance.now() - wallBefore;
    const scrapes = good - goodBefore;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const byPort = new Map(monitor.pool.current().endpoints.map((e) => [e.port, e.stale]));
    const goodPorts = ports.slice(0, endpoints - faulty);
    const faultyPorts = ports.slice(endpoints - faulty);
    const counts = goodPorts.map((p) => perEndpoint.get(`127.0.0.1:${p}`) ?? 0).sort((a, b) => a - b);
    return {
      impl,
      endpoints,
      faulty,
      scrapesPerSec: Math.round((scrapes / wall) * 1000),
      targetScrapesPerSec: Math.round(((endpoints - faulty) * 1000) / DEFAULT_INTERVAL_MS),
      cpuShareOfOneCore: Number((cpuMs / wall).toFixed(3)),
      cpuUsPerScrape: Math.round((cpuMs * 1000) / Math.max(1, scrapes)),
      loopDelayP50Ms: beyondTick(delay.percentile(50)),
      loopDelayP99Ms: beyondTick(delay.percentile(99)),
      loopDelayMaxMs: beyondTick(delay.max),
      goodFresh: goodPorts.filter((p) => byPort.get(p) === false).length,
      perEndpoint: [counts[0] ?? 0, counts[Math.floor(counts.length / 2)] ?? 0, counts[counts.length - 1] ?? 0],
      faultyStale: faultyPorts.filter((p) => byPort.get(p) === true).length,
    };
  } finally {
    await monitor.close();
  }
}

/**
 * monitorEventLoopDelay records the whole time between two ticks of its 1 ms sampling timer; the delay is what
 * exceeds the tick (an idle loop reads ~0).
 */
function beyondTick(ns: number): number {
  return Number(Math.max(0, ns / 1e6 - LOOP_TICK_MS).toFixed(2));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function run(options: DatalayerBenchOptions = {}): Promise<object> {
  const windowMs = options.windowMs ?? 4_000;
  const warmupMs = options.warmupMs ?? 1_500;
  const sizes = options.sizes ?? [10, 100, 1000];
  const parse = benchParse();
  console.log('\n### Reading a realistic vLLM /metrics page (38.8 KB, 14 histograms), per page\n');
  console.log('| case | page bytes | us/page | MB/s |');
  console.log('|---|---:|---:|---:|');
  for (const p of parse) console.log(`| ${p.case} | ${p.pageBytes} | ${p.usPerPage} | ${p.mbPerSec} |`);

  const cases: [number, number][] = sizes.map((n) => [n, 0]);
  const largest = sizes[sizes.length - 1] ?? 1000;
  cases.push([largest, Math.round(largest / 10)]);
  const scrape: ScrapeFigures[] = [];
  for (const [n, faulty] of cases) {
    for (const impl of IMPLS) scrape.push(await benchScrape(impl, n, faulty, windowMs, warmupMs));
  }
  console.log(`\n### Scraping every ${DEFAULT_INTERVAL_MS} ms (vLLM v1 page with LoRA; faulty: half hung, half refusing)\n`);
  console.log('| data layer | endpoints (faulty) | good scrapes/s (target) | CPU, share of one core | CPU us/scrape | main-thread loop delay p50 / p99 / max ms | good fresh | good scrapes per endpoint min / median / max | faulty stale |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of scrape) {
    console.log(
      `| ${s.impl} | ${s.endpoints} (${s.faulty}) | ${s.scrapesPerSec} (${s.targetScrapesPerSec}) | ${(s.cpuShareOfOneCore * 100).toFixed(1)}% | ${s.cpuUsPerScrape} | ${s.loopDelayP50Ms} / ${s.loopDelayP99Ms} / ${s.loopDelayMaxMs} | ${s.goodFresh}/${s.endpoints - s.faulty} | ${s.perEndpoint.join(' / ')} | ${s.faultyStale}/${s.faulty} |`,
    );
  }
  return { parse, scrape };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizes = process.argv.find((a) => a.startsWith('--sizes='))?.slice('--sizes='.length).split(',').map(Number);
  run(sizes !== undefined ? { sizes } : {})
    .then((result) => console.log(`\n${JSON.stringify(result)}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
