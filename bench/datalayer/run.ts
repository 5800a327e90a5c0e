// Data-layer benchmark (issue 14): the cost of reading a realistic vLLM page, and of scraping 10 / 100 / 1,000
// endpoints every 50 ms (also with 10% of them dead or hung), the data layer before issue 14 (a frozen copy in
// ./baseline) beside the current one in the same run. Servers run in a child process so the CPU measured here
// is the scraper's alone; process.cpuUsage counts every thread of this process.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { getPriority, loadavg, setPriority } from 'node:os';
import { type RecordableHistogram, PerformanceObserver, createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SystemClock } from '../../src/core/index.js';
import {
  type PoolMonitorOptions,
  type ScrapeListener,
  type ScrapeObserver,
  DEFAULT_SCRAPE_TIMEOUT_MS,
  DEFAULT_SCRAPE_WORKER_NICE,
  InflightTracker,
  MetricsPageReader,
  PoolMonitor,
  StaticEndpointSource,
  VLLM_METRICS,
  extractEndpointMetrics,
  familiesOf,
  parsePrometheusText,
} from '../../src/datalayer/index.js';
import { type FromWorker, type ScrapeWorkerInit, type ToWorker, STRIDE } from '../../src/datalayer/scrape-wire.js';
import { lowerBackgroundThreads, startThreadpool } from '../../src/datalayer/thread-priority.js';
import { HybridDetector } from '../../src/saturation/index.js';
import { restrictExposition } from '../../src/simulator/name-filter.js';
import { PoolMonitor as BaselinePoolMonitor } from './baseline/pool-monitor.js';
import { type StandInKind, type StandInPriority, type StandIns, startStandIns } from './stand-ins.js';
import { type PageOptions, vllmMetricsPage } from './vllm-metrics-page.js';
import { argValue as arg } from '../argv.js';

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
   * off); for diagnosis receive, receive-whole (this build's worker, batches received and counted, nothing
   * applied), worker-idle, worker-idle-whole (this build's worker moved to SCHED_IDLE once started), worker-bg0,
   * worker-bg0-whole (this build's worker with the other threads left at the process's priority, as before
   * 2026-12-07; `worker` lowers them as the server does).
   * @default floor, before, main, worker
   */
  readonly impls?: readonly string[];
  /** Another build's repository root (its dist/ built): its data layer runs as `baseline build`. */
  readonly baselineRoot?: string;
  /** The worker variant once per nice value given (the scrape worker's `scrapeWorkerNice`). */
  readonly workerNice?: readonly number[];
  /** @default 'c' (falls back to 'node' where the C ones cannot be built) */
  readonly standIns?: StandInKind;
  /**
   * The stand-ins serve one unchanging page (`--static-pages`, the passes before 2026-12-07 07:30) instead of
   * pages whose load gauges change from one answer to the next (stand-ins.ts, standInPages). @default false
   */
  readonly staticPages?: boolean;
  /**
   * Where the stand-ins run (stand-ins.ts, StandInOptions.priority): `idle`, in this session at the lowest
   * priority, as servers on other machines; `group` (`--stand-ins-priority=group`), a session of their own, as an
   * equal competitor for the cores (the passes before 2026-12-07). @default 'idle'
   */
  readonly standInPriority?: StandInPriority;
  /** Page-reading figures. @default true */
  readonly parse?: boolean;
  /** The case with 10% of the largest pool faulty. @default true */
  readonly faulty?: boolean;
  /**
   * What the dispatch thread runs beside the monitor. `server`: as the server wires it, the in-flight ledger as
   * the monitor's scrape listener and a hybrid detector on the pool and the ledger, read at every change as flow
   * control reads it while work is queued. `bare`: the monitor alone (the passes before 2026-12-07 06:00).
   * @default 'server'
   */
  readonly dispatch?: 'server' | 'bare';
  /**
   * Diagnosis (Linux, `taskset`), which threads share a core. `dispatch`: the dispatch thread alone on CPU 0, every
   * other thread of this process (the scrape worker, V8's and libuv's helpers) and the stand-ins on CPU 1, so the
   * dispatch thread never waits behind them for a core (other processes of the host still may). `stand-ins`: the
   * stand-ins alone on CPU 1, this whole process (dispatch thread and scrape worker) on CPU 0, as when the metrics
   * servers are other machines and the gateway has one core. @default false
   */
  readonly pin?: PinLayout | false;
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
  /** The build's in-flight ledger and hybrid detector (`dispatch: server`); absent where nothing is applied. */
  readonly kit?: DispatchKit;
  /** Run once the monitor has started (its worker thread is there). */
  readonly afterStart?: () => Promise<void>;
  /** Run before the monitor starts; what it returns is run once the monitor has closed. */
  readonly beforeStart?: () => () => void;
}

/** The part of PoolMonitor every variant has (the frozen copy and other builds included). */
interface Monitor {
  start(): Promise<void>;
  close(): Promise<void>;
  readonly pool: { current(): { endpoints: readonly { port: number; stale: boolean }[] } };
}

/** What the server puts on the dispatch thread beside the monitor, from one build. */
interface DispatchKit {
  readonly Tracker: new () => ScrapeListener;
  readonly Detector: new (deps: { pool: unknown; inflight: unknown }) => DetectorLike;
}

interface DetectorLike {
  saturation(): number;
  onChange(listener: () => void): () => void;
  close(): void;
}

const THIS_KIT: DispatchKit = {
  Tracker: InflightTracker,
  Detector: HybridDetector as unknown as DispatchKit['Detector'],
};

interface MonitorOptions {
  readonly source: unknown;
  readonly clock: unknown;
  readonly scrapeIntervalMs: number;
  readonly scrapeListener: ScrapeListener;
  /** Good scrapes merged away unapplied (builds whose backlog merges) count as good scrapes too. */
  readonly observer: ScrapeObserver;
}

type MonitorClass = new (options: MonitorOptions & Record<string, unknown>) => Monitor;

/** Another build's data layer, from its dist/ (it must have been built). */
async function baselineBuild(root: string): Promise<{ Monitor: MonitorClass; source: (ports: readonly number[]) => unknown; clock: unknown; kit: DispatchKit }> {
  const datalayer = (await import(pathToFileURL(`${root}/dist/src/datalayer/index.js`).href)) as {
    PoolMonitor: MonitorClass;
    StaticEndpointSource: new (specs: { host: string; port: number }[]) => unknown;
    InflightTracker: DispatchKit['Tracker'];
  };
  const core = (await import(pathToFileURL(`${root}/dist/src/core/index.js`).href)) as { SystemClock: new () => unknown };
  const saturation = (await import(pathToFileURL(`${root}/dist/src/saturation/index.js`).href)) as { HybridDetector: DispatchKit['Detector'] };
  return {
    Monitor: datalayer.PoolMonitor,
    source: (ports) => new datalayer.StaticEndpointSource(ports.map((port) => ({ host: '127.0.0.1', port }))),
    clock: new core.SystemClock(),
    kit: { Tracker: datalayer.InflightTracker, Detector: saturation.HybridDetector },
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

/**
 * Diagnosis: the scrape worker of this build, started by hand, its batches received on the dispatch thread (the
 * message event and its structured-clone copy) and counted, but nothing applied: no store, no snapshot, no
 * ledger, no detector. Its pool is empty (no endpoint reads as fresh).
 */
class ReceiveOnlyMonitor implements Monitor {
  readonly pool = { current: () => ({ endpoints: [] }) };
  private worker: Worker | undefined;

  constructor(
    private readonly ports: readonly number[],
    private readonly listener: ScrapeListener,
    private readonly nice: number,
    private readonly filtered: boolean,
  ) {}

  start(): Promise<void> {
    const init: ScrapeWorkerInit = {
      timing: { intervalMs: DEFAULT_INTERVAL_MS, timeoutMs: Math.min(DEFAULT_SCRAPE_TIMEOUT_MS, STALE_AFTER_MS) },
      fetch: {},
      token: undefined,
      nice: this.nice,
    };
    if (this.nice > 0) startThreadpool();
    const worker = new Worker(new URL('../../src/datalayer/scrape-worker.js', import.meta.url), { workerData: init, execArgv: [] });
    this.worker = worker;
    const ids = this.ports.map((port) => `127.0.0.1:${port}`);
    worker.on('message', (message: FromWorker) => {
      if (message.kind !== 'outcomes') return;
      const { nums } = message;
      for (let b = 0; b < nums.length; b += STRIDE) if (nums[b + 1] === 1) this.listener.markScraped(ids[(nums[b] ?? 0) - 1] ?? '', 0);
    });
    const names = this.filtered ? [...familiesOf(VLLM_METRICS)] : undefined;
    for (const [i, port] of this.ports.entries()) {
      const message: ToWorker = {
        kind: 'add',
        slot: i + 1,
        id: ids[i] ?? '',
        target: { host: '127.0.0.1', port, path: '/metrics', ...(names !== undefined ? { names } : {}) },
        names: VLLM_METRICS,
        initialDelayMs: ((i * 0.618_033_988_75) % 1) * DEFAULT_INTERVAL_MS,
      };
      worker.postMessage(message);
    }
    return Promise.resolve();
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ kind: 'close' } satisfies ToWorker);
    const grace = setTimeout(() => void worker.terminate(), 2_000);
    await exited;
    clearTimeout(grace);
  }
}

/** The monitor's own default staleness limit (pool-store.ts), which bounds its scrape timeout. */
const STALE_AFTER_MS = 200;

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
  /** Diagnosis of the dispatch thread's delay, over the window. */
  readonly diag: Diagnosis;
}

interface Diagnosis {
  /** Time the dispatch thread was runnable but waiting for a core (schedstat), ms per second; NaN off Linux. */
  readonly runQueueMsPerSec: number;
  /** The same, per time it was put on a core (us). */
  readonly runQueueUsPerSlice: number;
  /** Worker batches received per second (0 where the variant has no worker or its apply is not reachable). */
  readonly batchesPerSec: number;
  /** One batch applied by the monitor (snapshot, ledger): p99 and max, us. */
  readonly applyP99Us: number;
  readonly applyMaxUs: number;
  /** The detector's read after a change, as flow control makes it: p99 us (NaN without one). */
  readonly detectorP99Us: number;
  /** The detector's rescoring: full passes per second, endpoints scored per second (NaN where not readable). */
  readonly fullPassesPerSec: number;
  readonly scoredPerSec: number;
  /** Garbage collections on the dispatch thread's heap: per second, ms per second, the longest (ms). */
  readonly gcPerSec: number;
  readonly gcMsPerSec: number;
  readonly gcMaxMs: number;
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

/** The dispatch thread's scheduler figures: ns on a core, ns waiting for one, times put on one; NaNs off Linux. */
function mainThreadSchedstat(): [number, number, number] {
  try {
    const [run, wait, slices] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return [run ?? Number.NaN, wait ?? Number.NaN, slices ?? Number.NaN];
  } catch {
    return [Number.NaN, Number.NaN, Number.NaN];
  }
}

/** Sets the CPUs of a thread (`-p`) or of a whole process (`-a -p`). */
function taskset(cpus: string, id: number, allThreads = false): void {
  execFileSync('taskset', [...(allThreads ? ['-a'] : []), '-p', '-c', cpus, String(id)], { stdio: 'ignore' });
}

/** This process's children (the stand-ins), found through /proc. */
function childPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Diagnosis: every thread of this process with a raised nice value (the scrape worker) moved to SCHED_IDLE with
 * `chrt`: it then runs only when no other thread wants the core, and the kernel counts a core running only such
 * threads as idle when it places a waking thread. Not something the service does (Node has no call for it).
 */
async function idleWorkerThreads(): Promise<void> {
  // The worker lowers its own nice value once it runs: wait for it (a second at most).
  for (let tries = 0; tries < 100; tries++) {
    const reniced = readdirSync('/proc/self/task').filter((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) > 0;
    });
    if (reniced.length > 0) {
      for (const tid of reniced) execFileSync('chrt', ['--idle', '-p', '0', tid], { stdio: 'ignore' });
      return;
    }
    await sleep(10);
  }
  throw new Error('no reniced scrape worker thread found for SCHED_IDLE');
}

/**
 * The server lowers this process's other threads (V8's platform workers, libuv's threadpool) to the scrape
 * worker's nice value just before the worker starts (FairwayServer.lowerBackgroundPriority); the `worker` variants
 * do the same through the same option. Variants share this process, so each such case saves every thread's value
 * first and puts it back after (saveThreadPriorities); lowering a nice value needs root, so elsewhere those
 * variants leave the threads as they are and say so in their name.
 */
const CAN_RESTORE_PRIORITIES = process.platform === 'linux' && process.getuid?.() === 0;

/** Every thread's nice value now; the returned function puts them back (threads that ended are skipped). */
function saveThreadPriorities(): () => void {
  const saved = readdirSync('/proc/self/task').map((tid) => [Number(tid), getPriority(Number(tid))] as const);
  return () => {
    for (const [tid, before] of saved) {
      try {
        if (getPriority(tid) !== before) setPriority(tid, before);
      } catch (err: unknown) {
        // Node's SystemError keeps the errno name under `info`: a thread that ended meanwhile.
        if ((err as { info?: { code?: string } }).info?.code === 'ESRCH') continue;
        throw new Error(`cannot put back thread ${tid}'s nice value ${before} for the next variant: ${String(err)}`);
      }
    }
  };
}

export type PinLayout = 'dispatch' | 'stand-ins';

/** `--pin[=dispatch|stand-ins]`: see DatalayerBenchOptions.pin; `false` undoes it (the stand-ins stop with the case). */
function pinThreads(layout: PinLayout | false): void {
  const threads = readdirSync('/proc/self/task').map(Number);
  const cpusOf = (tid: number): string => (layout === false ? '0-1' : layout === 'stand-ins' || tid === process.pid ? '0' : '1');
  for (const tid of threads) taskset(cpusOf(tid), tid);
  if (layout !== false) for (const pid of childPids()) taskset('1', pid, true);
}

interface MeasureOptions {
  readonly windowMs: number;
  readonly warmupMs: number;
  readonly dispatch: 'server' | 'bare';
  readonly pin: PinLayout | false;
  readonly staticPages: boolean;
  readonly standInPriority: StandInPriority;
}

async function benchScrape(impl: Impl, endpoints: number, faulty: number, standIns: StandInKind, options: MeasureOptions): Promise<ScrapeFigures> {
  const hang = Math.floor(faulty / 2);
  const servers = await startStandIns(endpoints - faulty, hang, faulty - hang, standIns, { staticPages: options.staticPages, priority: options.standInPriority });
  try {
    return await measureScrape(impl, endpoints, faulty, servers, options);
  } finally {
    servers.stop();
  }
}

/** The detector's own rescoring counters (a protected field, read for diagnosis); NaNs where absent. */
function scoringOf(detector: DetectorLike | undefined): { full: number; endpoints: number } {
  const scoring = (detector as unknown as { scoring?: { full: number; endpoints: number } } | undefined)?.scoring;
  return scoring === undefined ? { full: Number.NaN, endpoints: Number.NaN } : { full: scoring.full, endpoints: scoring.endpoints };
}

/** A histogram's percentile in microseconds (recorded in ns); NaN when empty. */
function us(h: RecordableHistogram, p: number | 'max'): number {
  if (h.count === 0) return Number.NaN;
  return Number(((p === 'max' ? h.max : h.percentile(p)) / 1000).toFixed(1));
}

function nsSince(startMs: number): number {
  return Math.max(1, Math.round((performance.now() - startMs) * 1e6));
}

async function measureScrape(impl: Impl, endpoints: number, faulty: number, servers: StandIns, options: MeasureOptions): Promise<ScrapeFigures> {
  const { ports } = servers;
  const { windowMs, warmupMs } = options;
  let good = 0;
  let counting = false;
  const perEndpoint = new Map<string, number>();
  const kit = options.dispatch === 'server' ? impl.kit : undefined;
  const tracker = kit === undefined ? undefined : new kit.Tracker();
  const listener: ScrapeListener = {
    markScraped: (id, takenAt) => {
      good++;
      if (counting) perEndpoint.set(id, (perEndpoint.get(id) ?? 0) + 1);
      tracker?.markScraped(id, takenAt);
    },
    forget: (id) => tracker?.forget?.(id),
    scrapeFailed: (id, unreachable, reason) => tracker?.scrapeFailed?.(id, unreachable, reason),
  };
  const monitor = impl.make({
    source: new StaticEndpointSource(ports.map((port) => ({ host: '127.0.0.1', port }))),
    clock: new SystemClock(),
    scrapeIntervalMs: DEFAULT_INTERVAL_MS,
    scrapeListener: listener,
    observer: {
      onScrapeFailure: () => undefined,
      onScrapesSuperseded: (id, count) => {
        good += count;
        if (counting) perEndpoint.set(id, (perEndpoint.get(id) ?? 0) + count);
      },
    },
  });
  const applyTimes = createHistogram();
  const detectorTimes = createHistogram();
  // The monitor's batch entry (this build and builds of this session's shape), timed from outside.
  const internals = monitor as unknown as { applyBatch?: (apply: unknown) => void };
  const applyBatch = internals.applyBatch;
  if (typeof applyBatch === 'function') {
    internals.applyBatch = (apply: unknown): void => {
      const t = performance.now();
      applyBatch.call(monitor, apply);
      if (counting) applyTimes.record(nsSince(t));
    };
  }
  const detector = kit === undefined || tracker === undefined ? undefined : new kit.Detector({ pool: monitor.pool, inflight: tracker });
  let reading = false;
  // As flow control does while requests are queued: a change kicks one read in a microtask, coalesced.
  const unsubscribe = detector?.onChange(() => {
    if (reading) return;
    reading = true;
    queueMicrotask(() => {
      reading = false;
      const t = performance.now();
      detector.saturation();
      if (counting) detectorTimes.record(nsSince(t));
    });
  });
  let gcs = 0;
  let gcMs = 0;
  let gcMaxMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    if (!counting) return;
    for (const entry of list.getEntries()) {
      gcs++;
      gcMs += entry.duration;
      gcMaxMs = Math.max(gcMaxMs, entry.duration);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: LOOP_TICK_MS });
  const undo = impl.beforeStart?.();
  try {
    await monitor.start();
    await impl.afterStart?.();
    if (options.pin !== false) pinThreads(options.pin);
    await sleep(warmupMs);
    const goodBefore = good;
    const standInBefore = await servers.cpuUs();
    const cpuBefore = process.cpuUsage();
    const mainBefore = mainThreadCpuMs();
    const schedBefore = mainThreadSchedstat();
    const scoringBefore = scoringOf(detector);
    const wallBefore = performance.now();
    delay.enable();
    counting = true;
    await sleep(windowMs);
    counting = false;
    delay.disable();
    const cpu = process.cpuUsage(cpuBefore);
    const mainMs = mainThreadCpuMs() - mainBefore;
    const schedAfter = mainThreadSchedstat();
    const wall = performance.now() - wallBefore;
    const waitNs = schedAfter[1] - schedBefore[1];
    const scoring = scoringOf(detector);
    const fullPasses = scoring.full - scoringBefore.full;
    const scored = scoring.endpoints - scoringBefore.endpoints;
    const slices = schedAfter[2] - schedBefore[2];
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
      diag: {
        runQueueMsPerSec: Number((waitNs / 1e6 / (wall / 1000)).toFixed(2)),
        runQueueUsPerSlice: slices > 0 ? Number((waitNs / 1000 / slices).toFixed(1)) : Number.NaN,
        batchesPerSec: Math.round((applyTimes.count / wall) * 1000),
        applyP99Us: us(applyTimes, 99),
        applyMaxUs: us(applyTimes, 'max'),
        detectorP99Us: us(detectorTimes, 99),
        fullPassesPerSec: Number(((fullPasses / wall) * 1000).toFixed(1)),
        scoredPerSec: Math.round((scored / wall) * 1000),
        gcPerSec: Number(((gcs / wall) * 1000).toFixed(1)),
        gcMsPerSec: Number(((gcMs / wall) * 1000).toFixed(2)),
        gcMaxMs: Number(gcMaxMs.toFixed(2)),
      },
    };
  } finally {
    gcObserver.disconnect();
    unsubscribe?.();
    detector?.close();
    await monitor.close();
    try {
      undo?.();
    } finally {
      if (options.pin !== false) pinThreads(false);
    }
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
  if (wanted.includes('before')) out.push({ name: 'before issue 14', make: (o) => new BaselinePoolMonitor(o as ConstructorParameters<typeof BaselinePoolMonitor>[0]), kit: THIS_KIT });
  if (options.baselineRoot !== undefined && (wanted.includes('base-main') || wanted.includes('base-worker'))) {
    const base = await baselineBuild(options.baselineRoot);
    for (const thread of ['main', 'worker'] as const) {
      if (!wanted.includes(`base-${thread}`)) continue;
      out.push({
        name: `baseline build, ${thread}`,
        make: (o) => new base.Monitor({ ...o, source: base.source(portsOf(o)), clock: base.clock, scrapeThread: thread }),
        kit: base.kit,
      });
    }
  }
  // The stand-ins honour name[] as prometheus_client does, so `filtered` reads ~1.3 KB pages, `whole` 38.8 KB.
  for (const page of ['filtered', 'whole'] as const) {
    const suffix = page === 'whole' ? '-whole' : '';
    const nameFilter = page === 'whole' ? 'off' : 'on';
    if (wanted.includes(`main${suffix}`)) {
      out.push({ name: `after, main, ${page} page`, make: (o) => new PoolMonitor({ ...(o as PoolMonitorOptions), scrapeThread: 'main', nameFilter }), kit: THIS_KIT });
    }
    for (const nice of options.workerNice ?? [undefined]) {
      const niceName = nice === undefined ? '' : ` (nice ${nice})`;
      // This build's monitor scraping on its worker, as every worker variant runs it.
      const onWorker = (o: MonitorOptions): PoolMonitorOptions => ({
        ...(o as PoolMonitorOptions),
        scrapeThread: 'worker',
        nameFilter,
        ...(nice !== undefined ? { scrapeWorkerNice: nice } : {}),
      });
      if (wanted.includes(`worker${suffix}`)) {
        const lower = (): void => void lowerBackgroundThreads(nice ?? DEFAULT_SCRAPE_WORKER_NICE);
        out.push({
          name: `after, worker${niceName}${CAN_RESTORE_PRIORITIES ? '' : ', background threads not lowered (not root)'}, ${page} page`,
          make: (o) => new PoolMonitor({ ...onWorker(o), ...(CAN_RESTORE_PRIORITIES ? { beforeScrapeWorker: lower } : {}) }),
          kit: THIS_KIT,
          ...(CAN_RESTORE_PRIORITIES ? { beforeStart: saveThreadPriorities } : {}),
        });
      }
      if (wanted.includes(`worker-bg0${suffix}`)) {
        out.push({
          name: `diagnosis: worker${niceName}, background threads left at the process's priority, ${page} page`,
          make: (o) => new PoolMonitor(onWorker(o)),
          kit: THIS_KIT,
        });
      }
      if (wanted.includes(`worker-idle${suffix}`)) {
        out.push({
          name: `diagnosis: worker${niceName} then SCHED_IDLE, ${page} page`,
          make: (o) => new PoolMonitor(onWorker(o)),
          kit: THIS_KIT,
          afterStart: idleWorkerThreads,
        });
      }
      if (wanted.includes(`receive${suffix}`)) {
        out.push({
          name: `diagnosis: worker${niceName}, ${page} page, batches received, nothing applied`,
          make: (o) => new ReceiveOnlyMonitor(portsOf(o), o.scrapeListener, nice ?? DEFAULT_SCRAPE_WORKER_NICE, page === 'filtered'),
        });
      }
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
  const measure: MeasureOptions = { windowMs, warmupMs, dispatch: options.dispatch ?? 'server', pin: options.pin ?? false, staticPages: options.staticPages ?? false, standInPriority: options.standInPriority ?? 'idle' };
  const scrape: ScrapeFigures[][] = [];
  for (const [n, faulty] of cases) {
    const byImpl: ScrapeFigures[][] = variants.map(() => []);
    // Variants alternate within each round, so a change in the host's load touches all of them alike.
    for (let r = 0; r < rounds; r++) {
      for (const [i, impl] of variants.entries()) byImpl[i]?.push(await benchScrape(impl, n, faulty, standIns, measure));
    }
    scrape.push(...byImpl);
  }
  const served = measure.staticPages ? 'one unchanging page' : 'waiting/running/KV gauges changing every answer';
  const placed = measure.standInPriority === 'idle' ? 'in this session at the lowest priority' : 'in a session of their own';
  const kind = `${standIns === 'c' ? 'C stand-ins (Node ones where they cannot be built)' : 'Node stand-ins'} ${placed}, ${served}`;
  const beside = measure.dispatch === 'server' ? 'in-flight ledger and hybrid detector on the dispatch thread' : 'the monitor alone on the dispatch thread';
  const pinned =
    measure.pin === 'dispatch' ? '; pinned: dispatch thread on CPU 0, the rest on CPU 1' : measure.pin === 'stand-ins' ? '; pinned: this process on CPU 0, the stand-ins on CPU 1' : '';
  console.log(`\n### Scraping every ${DEFAULT_INTERVAL_MS} ms (vLLM v1 page with LoRA; faulty: half hung, half refusing; ${kind}; ${beside}${pinned}; medians of ${rounds} round(s), all values in brackets)\n`);
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
  console.log('\n### Dispatch thread, what its delay is made of (same runs, medians)\n');
  console.log('| data layer | endpoints (faulty) | loop delay p99 ms | waiting for a core: ms/s, us per run | batches/s | applying one batch p99 / max us | detector read p99 us, full passes/s, endpoints scored/s | GCs/s, ms/s, longest ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const runs of scrape) {
    const s = runs[0];
    if (s === undefined) continue;
    console.log(
      `| ${s.impl} | ${s.endpoints} (${s.faulty}) | ${show(runs, (x) => x.loopDelayP99Ms, 2)} | ${show(runs, (x) => x.diag.runQueueMsPerSec, 1)}, ${show(runs, (x) => x.diag.runQueueUsPerSlice, 1)} | ${show(runs, (x) => x.diag.batchesPerSec)} | ${show(runs, (x) => x.diag.applyP99Us)} / ${show(runs, (x) => x.diag.applyMaxUs)} | ${show(runs, (x) => x.diag.detectorP99Us)}, ${show(runs, (x) => x.diag.fullPassesPerSec, 1)}, ${show(runs, (x) => x.diag.scoredPerSec)} | ${show(runs, (x) => x.diag.gcPerSec, 1)}, ${show(runs, (x) => x.diag.gcMsPerSec, 2)}, ${show(runs, (x) => x.diag.gcMaxMs, 2)} |`,
    );
  }
  return { parse, scrape };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const list = (name: string): string[] | undefined => arg(name)?.split(',');
  const sizes = list('sizes')?.map(Number);
  const nice = list('worker-nice')?.map(Number);
  const impl = list('impls');
  const rounds = arg('rounds');
  const baselineRoot = arg('baseline-root');
  const standIns = arg('stand-ins');
  const priorityArg = arg('stand-ins-priority');
  if (priorityArg !== undefined && priorityArg !== 'idle' && priorityArg !== 'group') throw new Error(`--stand-ins-priority: idle or group, not ${priorityArg}`);
  const standInPriority: StandInPriority | undefined = priorityArg;
  run({
    ...(sizes !== undefined ? { sizes } : {}),
    ...(nice !== undefined ? { workerNice: nice } : {}),
    ...(impl !== undefined ? { impls: impl } : {}),
    ...(rounds !== undefined ? { rounds: Number(rounds) } : {}),
    ...(baselineRoot !== undefined ? { baselineRoot } : {}),
    ...(standIns === 'node' || standIns === 'c' ? { standIns } : {}),
    ...(process.argv.includes('--no-parse') ? { parse: false } : {}),
    ...(process.argv.includes('--no-faulty') ? { faulty: false } : {}),
    ...(arg('dispatch') === 'bare' ? { dispatch: 'bare' } : {}),
    ...(process.argv.includes('--pin') ? { pin: 'dispatch' } : arg('pin') === 'stand-ins' || arg('pin') === 'dispatch' ? { pin: arg('pin') as PinLayout } : {}),
    ...(process.argv.includes('--static-pages') ? { staticPages: true } : {}),
    ...(standInPriority !== undefined ? { standInPriority } : {}),
  })
    .then((result) => console.log(`\n${JSON.stringify(result)}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
