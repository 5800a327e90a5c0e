// Data-layer benchmark (issue 14): the cost of reading a realistic vLLM page, and of scraping 10 / 100 / 1,000
// endpoints every 50 ms (also with 10% of them dead or hung), the data layer before issue 14 (a frozen copy in
// ./baseline) beside the current one in the same run. Servers run in a child process so the CPU measured here
// is the scraper's alone; process.cpuUsage counts every thread of this process.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { SystemClock } from '../../src/core/index.js';
import {
  type PoolMonitorOptions,
  type ScrapeListener,
  MetricsPageReader,
  PoolMonitor,
  StaticEndpointSource,
  VLLM_METRICS,
  extractEndpointMetrics,
  familiesOf,
  parsePrometheusText,
} from '../../src/datalayer/index.js';
import { restrictExposition } from '../../src/simulator/name-filter.js';
import { PoolMonitor as BaselinePoolMonitor } from './baseline/pool-monitor.js';
import { type StandInKind, type StandIns, startStandIns } from './stand-ins.js';
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
  /** Rounds per case, the variants alternating within each; figures are medians. @default 1 */
  readonly rounds?: number;
  /**
   * Variants: floor (no scraping), before, base-main, base-worker (with baselineRoot), main, worker (asking for
   * the families in use, `name[]`: the default for vLLM), main-whole, worker-whole (the whole page, nameFilter
   * off). @default floor, before, main, worker
   */
  readonly impls?: readonly string[];
  /** Another build's repository root (its dist/ built): its data layer runs as `baseline build`. */
  readonly baselineRoot?: string;
  /** The worker variant once per nice value given (the scrape worker's `scrapeWorkerNice`). */
  readonly workerNice?: readonly number[];
  /** @default 'c' (falls back to 'node' where the C ones cannot be built) */
  readonly standIns?: StandInKind;
  /** Page-reading figures. @default true */
  readonly parse?: boolean;
  /** The case with 10% of the largest pool faulty. @default true */
  readonly faulty?: boolean;
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

function benchParse(baseline: BaselineReader | undefined): ParseFigures[] {
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
  if (baseline !== undefined) {
    const old = new baseline.MetricsPageReader({ wanted: keep });
    add('baseline build: early stop, vLLM v1 order with LoRA', {}, (parts) => {
      old.begin(withLora);
      for (const p of parts) if (!old.push(p)) break;
      extractEndpointMetrics(old.finish(), VLLM_METRICS);
    });
  }
  add('after: early stop, vLLM v1 order without LoRA', { lora: false }, after(dynamic));
  // What a server honouring name[] sends: the families in use only.
  const filtered = (parts: Buffer[]): void => {
    reader.begin(undefined);
    for (const p of parts) if (!reader.push(p)) break;
    extractEndpointMetrics(reader.finish(), VLLM_METRICS);
  };
  const names = new Set(keep);
  const addFiltered = (name: string): void => {
    const whole = Buffer.from(restrictExposition(vllmMetricsPage(), names));
    const parts = chunks(whole);
    const us = timeIt(() => filtered(parts));
    figures.push({ case: name, pageBytes: whole.length, usPerPage: Number(us.toFixed(1)), mbPerSec: Math.round(whole.length / us) });
  };
  addFiltered('after: the page restricted by name[] to the families in use, whole read');
  add('after: early stop, LoRA info right after the gauges', { layout: 'gauges-first' }, after(withLora));
  return figures;
}

/**
 * Data layers measured side by side. `before issue 14`: the frozen copy in ./baseline. `baseline build`:
 * another build of this repository (`--baseline-root`, e.g. main before a change), for before/after figures
 * in one run. `after`: this build, scraping on the dispatch thread or on the worker (at a given nice value).
 */
interface Impl {
  readonly name: string;
  readonly make: (options: MonitorOptions) => Monitor;
}

/** The part of PoolMonitor every variant has (the frozen copy and other builds included). */
interface Monitor {
  start(): Promise<void>;
  close(): Promise<void>;
  readonly pool: { current(): { endpoints: readonly { port: number; stale: boolean }[] } };
}

interface MonitorOptions {
  readonly source: unknown;
  readonly clock: unknown;
  readonly scrapeIntervalMs: number;
  readonly scrapeListener: ScrapeListener;
}

type MonitorClass = new (options: MonitorOptions & Record<string, unknown>) => Monitor;

/** Another build's data layer, from its dist/ (it must have been built). */
async function baselineBuild(root: string): Promise<{ Monitor: MonitorClass; source: (ports: readonly number[]) => unknown; clock: unknown }> {
  const datalayer = (await import(pathToFileURL(`${root}/dist/src/datalayer/index.js`).href)) as {
    PoolMonitor: MonitorClass;
    StaticEndpointSource: new (specs: { host: string; port: number }[]) => unknown;
  };
  const core = (await import(pathToFileURL(`${root}/dist/src/core/index.js`).href)) as { SystemClock: new () => unknown };
  return {
    Monitor: datalayer.PoolMonitor,
    source: (ports) => new datalayer.StaticEndpointSource(ports.map((port) => ({ host: '127.0.0.1', port }))),
    clock: new core.SystemClock(),
  };
}

/** Another build's page reader (its dist/), for the page-reading figures. */
interface BaselineReader {
  readonly MetricsPageReader: new (options: { wanted: ReadonlySet<string> }) => Pick<MetricsPageReader, 'begin' | 'push' | 'finish'>;
}

async function baselineReader(root: string): Promise<BaselineReader> {
  return (await import(pathToFileURL(`${root}/dist/src/datalayer/index.js`).href)) as BaselineReader;
}

/**
 * No scraping at all: the dispatch thread's loop delay on this host as it is (other processes, the stand-ins),
 * the floor under every variant's figure.
 */
const HOST_FLOOR: Impl = {
  name: 'no scraping (host floor)',
  make: () => ({ start: () => Promise.resolve(), close: () => Promise.resolve(), pool: { current: () => ({ endpoints: [] }) } }),
};

interface ScrapeFigures {
  readonly impl: string;
  readonly endpoints: number;
  readonly faulty: number;
  readonly scrapesPerSec: number;
  readonly targetScrapesPerSec: number;
  /** This process (scraper and dispatch thread), share of one core. */
  readonly cpuShareOfOneCore: number;
  readonly cpuUsPerScrape: number;
  /** The dispatch (main) thread alone, share of one core; NaN where /proc is not there. */
  readonly mainThreadCpuShare: number;
  /** The metrics-server stand-ins' process, share of one core and per good answer. */
  readonly standInCpuShare: number;
  readonly standInUsPerAnswer: number;
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
  /** Load average (1 min) at the end of the window. */
  readonly load: number;
}

/** CPU time of this process's main thread (the dispatch thread), ms; NaN off Linux. */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold blanks): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SEC;
  } catch {
    return Number.NaN;
  }
}
/** USER_HZ, 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SEC = 100;

async function benchScrape(impl: Impl, endpoints: number, faulty: number, windowMs: number, warmupMs: number, standIns: StandInKind): Promise<ScrapeFigures> {
  const hang = Math.floor(faulty / 2);
  const servers = await startStandIns(endpoints - faulty, hang, faulty - hang, standIns);
  try {
    return await measureScrape(impl, endpoints, faulty, servers, windowMs, warmupMs);
  } finally {
    servers.stop();
  }
}

async function measureScrape(impl: Impl, endpoints: number, faulty: number, servers: StandIns, windowMs: number, warmupMs: number): Promise<ScrapeFigures> {
  const { ports } = servers;
  let good = 0;
  let counting = false;
  const perEndpoint = new Map<string, number>();
  const listener: ScrapeListener = {
    markScraped: (id) => {
      good++;
      if (counting) perEndpoint.set(id, (perEndpoint.get(id) ?? 0) + 1);
    },
  };
  const monitor = impl.make({
    source: new StaticEndpointSource(ports.map((port) => ({ host: '127.0.0.1', port }))),
    clock: new SystemClock(),
    scrapeIntervalMs: DEFAULT_INTERVAL_MS,
    scrapeListener: listener,
  });
  const delay = monitorEventLoopDelay({ resolution: LOOP_TICK_MS });
  try {
    await monitor.start();
    await sleep(warmupMs);
    const goodBefore = good;
    const standInBefore = await servers.cpuUs();
    const cpuBefore = process.cpuUsage();
    const mainBefore = mainThreadCpuMs();
    const wallBefore = performance.now();
    delay.enable();
    counting = true;
    await sleep(windowMs);
    counting = false;
    delay.disable();
    const cpu = process.cpuUsage(cpuBefore);
    const mainMs = mainThreadCpuMs() - mainBefore;
    const wall = performance.now() - wallBefore;
    const standInUs = (await servers.cpuUs()) - standInBefore;
    const scrapes = good - goodBefore;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const byPort = new Map(monitor.pool.current().endpoints.map((e) => [e.port, e.stale]));
    const goodPorts = ports.slice(0, endpoints - faulty);
    const faultyPorts = ports.slice(endpoints - faulty);
    const counts = goodPorts.map((p) => perEndpoint.get(`127.0.0.1:${p}`) ?? 0).sort((a, b) => a - b);
    return {
      impl: impl.name,
      endpoints,
      faulty,
      scrapesPerSec: Math.round((scrapes / wall) * 1000),
      targetScrapesPerSec: Math.round(((endpoints - faulty) * 1000) / DEFAULT_INTERVAL_MS),
      cpuShareOfOneCore: Number((cpuMs / wall).toFixed(3)),
      cpuUsPerScrape: scrapes === 0 ? Number.NaN : Math.round((cpuMs * 1000) / scrapes),
      mainThreadCpuShare: Number((mainMs / wall).toFixed(3)),
      standInCpuShare: Number((standInUs / 1000 / wall).toFixed(3)),
      standInUsPerAnswer: scrapes === 0 ? Number.NaN : Math.round(standInUs / scrapes),
      loopDelayP50Ms: beyondTick(delay.percentile(50)),
      loopDelayP99Ms: beyondTick(delay.percentile(99)),
      loopDelayMaxMs: beyondTick(delay.max),
      goodFresh: goodPorts.filter((p) => byPort.get(p) === false).length,
      perEndpoint: [counts[0] ?? 0, counts[Math.floor(counts.length / 2)] ?? 0, counts[counts.length - 1] ?? 0],
      faultyStale: faultyPorts.filter((p) => byPort.get(p) === true).length,
      load: Number((loadavg()[0] ?? 0).toFixed(2)),
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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The variants to run: the frozen pre-issue copy, another build (`baselineRoot`), this build on each thread. */
async function impls(options: DatalayerBenchOptions): Promise<Impl[]> {
  const wanted = options.impls ?? ['floor', 'before', 'main', 'worker'];
  const out: Impl[] = [];
  if (wanted.includes('floor')) out.push(HOST_FLOOR);
  // Before: the old defaults (1 s timeout, no backoff); after: the current defaults.
  if (wanted.includes('before')) out.push({ name: 'before issue 14', make: (o) => new BaselinePoolMonitor(o as ConstructorParameters<typeof BaselinePoolMonitor>[0]) });
  if (options.baselineRoot !== undefined && (wanted.includes('base-main') || wanted.includes('base-worker'))) {
    const base = await baselineBuild(options.baselineRoot);
    for (const thread of ['main', 'worker'] as const) {
      if (!wanted.includes(`base-${thread}`)) continue;
      out.push({
        name: `baseline build, ${thread}`,
        make: (o) => new base.Monitor({ ...o, source: base.source(portsOf(o)), clock: base.clock, scrapeThread: thread }),
      });
    }
  }
  // The stand-ins honour name[] as prometheus_client does, so `filtered` reads ~1.3 KB pages, `whole` 38.8 KB.
  for (const page of ['filtered', 'whole'] as const) {
    const suffix = page === 'whole' ? '-whole' : '';
    const nameFilter = page === 'whole' ? 'off' : 'on';
    if (wanted.includes(`main${suffix}`)) {
      out.push({ name: `after, main, ${page} page`, make: (o) => new PoolMonitor({ ...(o as PoolMonitorOptions), scrapeThread: 'main', nameFilter }) });
    }
    if (!wanted.includes(`worker${suffix}`)) continue;
    for (const nice of options.workerNice ?? [undefined]) {
      out.push({
        name: `after, worker${nice === undefined ? '' : ` (nice ${nice})`}, ${page} page`,
        make: (o) =>
          new PoolMonitor({ ...(o as PoolMonitorOptions), scrapeThread: 'worker', nameFilter, ...(nice !== undefined ? { scrapeWorkerNice: nice } : {}) }),
      });
    }
  }
  return out;
}

/** The ports a variant's endpoint source was built for (rebuilt with another build's own source class). */
function portsOf(o: MonitorOptions): number[] {
  const source = o.source as StaticEndpointSource;
  let ports: number[] = [];
  source.subscribe((specs) => (ports = specs.map((s) => s.port)))();
  return ports;
}

export async function run(options: DatalayerBenchOptions = {}): Promise<object> {
  const windowMs = options.windowMs ?? 4_000;
  const warmupMs = options.warmupMs ?? 1_500;
  const sizes = options.sizes ?? [10, 100, 1000];
  const rounds = options.rounds ?? 1;
  const standIns = options.standIns ?? 'c';
  let parse: ParseFigures[] = [];
  if (options.parse !== false) {
    parse = benchParse(options.baselineRoot === undefined ? undefined : await baselineReader(options.baselineRoot));
    console.log('\n### Reading a realistic vLLM /metrics page (38.8 KB, 14 histograms), per page\n');
    console.log('| case | page bytes | us/page | MB/s |');
    console.log('|---|---:|---:|---:|');
    for (const p of parse) console.log(`| ${p.case} | ${p.pageBytes} | ${p.usPerPage} | ${p.mbPerSec} |`);
  }

  const cases: [number, number][] = sizes.map((n) => [n, 0]);
  const largest = sizes[sizes.length - 1] ?? 1000;
  if (options.faulty !== false) cases.push([largest, Math.round(largest / 10)]);
  const variants = await impls(options);
  const scrape: ScrapeFigures[][] = [];
  for (const [n, faulty] of cases) {
    const byImpl: ScrapeFigures[][] = variants.map(() => []);
    // Variants alternate within each round, so a change in the host's load touches all of them alike.
    for (let r = 0; r < rounds; r++) {
      for (const [i, impl] of variants.entries()) byImpl[i]?.push(await benchScrape(impl, n, faulty, windowMs, warmupMs, standIns));
    }
    scrape.push(...byImpl);
  }
  const kind = standIns === 'c' ? 'C stand-ins (Node ones where they cannot be built)' : 'Node stand-ins';
  console.log(`\n### Scraping every ${DEFAULT_INTERVAL_MS} ms (vLLM v1 page with LoRA; faulty: half hung, half refusing; ${kind}; medians of ${rounds} round(s), all values in brackets)\n`);
  console.log('| data layer | endpoints (faulty) | good scrapes/s (target) | CPU us/scrape | CPU, share of one core (dispatch thread) | stand-ins: share of one core, us/answer | dispatch-thread loop delay p50 / p99 / max ms | good fresh | good scrapes per endpoint min / median / max | faulty stale | load |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const show = (runs: ScrapeFigures[], pick: (s: ScrapeFigures) => number, digits = 0): string => {
    const values = runs.map(pick);
    if (values.every((v) => Number.isNaN(v))) return '-';
    const m = median(values).toFixed(digits);
    return runs.length === 1 ? m : `${m} (${values.map((v) => v.toFixed(digits)).join(', ')})`;
  };
  for (const runs of scrape) {
    const s = runs[0];
    if (s === undefined) continue;
    console.log(
      `| ${s.impl} | ${s.endpoints} (${s.faulty}) | ${show(runs, (x) => x.scrapesPerSec)} (${s.targetScrapesPerSec}) | ${show(runs, (x) => x.cpuUsPerScrape)} | ${show(runs, (x) => x.cpuShareOfOneCore * 100)}% (${show(runs, (x) => x.mainThreadCpuShare * 100, 1)}%) | ${show(runs, (x) => x.standInCpuShare * 100)}%, ${show(runs, (x) => x.standInUsPerAnswer)} | ${show(runs, (x) => x.loopDelayP50Ms, 2)} / ${show(runs, (x) => x.loopDelayP99Ms, 2)} / ${show(runs, (x) => x.loopDelayMaxMs, 1)} | ${show(runs, (x) => x.goodFresh)}/${s.endpoints - s.faulty} | ${runs.map((x) => x.perEndpoint.join('/')).join(', ')} | ${show(runs, (x) => x.faultyStale)}/${s.faulty} | ${runs.map((x) => x.load).join(', ')} |`,
    );
  }
  return { parse, scrape };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const list = (name: string): string[] | undefined => arg(name)?.split(',');
  const sizes = list('sizes')?.map(Number);
  const nice = list('worker-nice')?.map(Number);
  const impl = list('impls');
  const rounds = arg('rounds');
  const baselineRoot = arg('baseline-root');
  const standIns = arg('stand-ins');
  run({
    ...(sizes !== undefined ? { sizes } : {}),
    ...(nice !== undefined ? { workerNice: nice } : {}),
    ...(impl !== undefined ? { impls: impl } : {}),
    ...(rounds !== undefined ? { rounds: Number(rounds) } : {}),
    ...(baselineRoot !== undefined ? { baselineRoot } : {}),
    ...(standIns === 'node' || standIns === 'c' ? { standIns } : {}),
    ...(process.argv.includes('--no-parse') ? { parse: false } : {}),
    ...(process.argv.includes('--no-faulty') ? { faulty: false } : {}),
  })
    .then((result) => console.log(`\n${JSON.stringify(result)}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
