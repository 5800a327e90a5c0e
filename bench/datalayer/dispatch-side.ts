// Dispatch-thread side of the data layer at pool scale (issue 14), in one process and without sockets, so the
// figures do not depend on how much CPU the scrape worker and the metrics servers get on a shared host: this build
// beside another (`--baseline-root`, e.g. main before a change), alternating, medians of rounds.
// - apply: the scrape worker's batches (encoded as the worker encodes them) applied by PoolMonitor into its store
//   and the in-flight ledger, with a hybrid detector subscribed and read once after each batch (what flow control
//   does when work is queued), per applied result; the endpoints' figures either all move or all stay; and the
//   same without a detector (the data layer's own part).
// - dispatch: a dispatch and an end (InflightTracker.begin / end), each followed by the detector's saturation(),
//   the reads flow control makes on its way, per dispatch.
// - burst: a busy worker's whole loop turn of outcomes arriving at once, and the longest stretch of work it gives
//   the dispatch thread between two chances for its timers (what its event-loop delay p99 follows).
import { pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { argValue as arg } from '../argv.js';
import { type BuildCompareOptions, alternate, buildCompareArgs, importBuilt, loadBuilds } from '../build-compare.js';
import { median } from '../engine/stats.js';

export interface DispatchSideOptions extends BuildCompareOptions {
  /** Endpoints in the pool. @default 1000 */
  readonly endpoints?: number;
  /** Results per worker batch. @default 40 (20,000 scrapes/s in 2 ms batching windows) */
  readonly batch?: number;
}

/** The parts of a build used here, loaded from its dist/. */
interface Build {
  readonly name: string;
  readonly datalayer: {
    PoolMonitor: new (options: Record<string, unknown>) => unknown;
    StaticEndpointSource: new (specs: { host: string; port: number }[]) => unknown;
    InflightTracker: new () => Tracker;
    PoolStore: new (options: Record<string, unknown>) => Store;
  };
  readonly wire: {
    OutcomeBatchWriter: new (timeOrigin: number) => { add(slot: number, outcome: unknown): void; take(): { nums: Float64Array; extras: unknown[] } };
    OutcomeBatchReader: new () => Reader;
    /** Builds that apply a bounded number of outcomes per loop turn (absent before). */
    OutcomeBacklog?: new () => {
      readonly pending: boolean;
      push(nums: Float64Array, extras: unknown[], reader: Reader, offset: number): void;
      read(reader: Reader, offset: number, emit: (slot: number, outcome: unknown) => void, budget: number): number;
    };
    APPLY_PER_TURN?: number;
  };
  readonly saturation: { HybridDetector: new (deps: Record<string, unknown>, options?: Record<string, unknown>) => Detector };
  readonly core: { SystemClock: new () => unknown };
}

interface Reader {
  read(nums: Float64Array, extras: unknown[], offset: number, emit: (slot: number, outcome: unknown) => void): void;
}

interface Tracker {
  begin(id: string, tokens: number): unknown;
  end(ticket: unknown): boolean;
}
interface Store {
  upsert(spec: { host: string; port: number }): string;
  recordMetrics(id: string, metrics: object, at: number): void;
  batch(fn: () => void): void;
}
interface Detector {
  saturation(): number;
  close(): void;
}
/** What PoolMonitor offers a batch: this build's BatchListener entry, or the older builds' queue and flush. */
interface MonitorInternals {
  start(): Promise<void>;
  close(): Promise<void>;
  readonly pool: unknown;
  applyBatch?(apply: (emit: (id: string, outcome: unknown) => void) => void): void;
  enqueue?(id: string, outcome: unknown): void;
  flush?(): void;
}

async function load(root: string, name: string): Promise<Build> {
  const imp = (path: string): Promise<unknown> => importBuilt(root, path);
  return {
    name,
    datalayer: (await imp('datalayer/index.js')) as Build['datalayer'],
    wire: (await imp('datalayer/scrape-wire.js')) as Build['wire'],
    saturation: (await imp('saturation/index.js')) as Build['saturation'],
    core: (await imp('core/index.js')) as Build['core'],
  };
}

const HUGE_MS = 1e9;
/** Outcomes a busy scrape worker finished in one loop turn (measured at 1,000 endpoints: ~230). */
const BURST = 230;

function metricsOf(i: number, move: number): object {
  return { waitingQueue: i % 3, runningRequests: 4 + (i % 5), kvCacheUsage: 0.25 + ((i + move) % 50) / 100, loraRunning: [], loraWaiting: [], maxLora: 0, kvBlockSize: 16, kvNumBlocks: 10_000 };
}

/** Microseconds of this thread's CPU per unit of `step`, over `ms`. */
function perUnit(ms: number, step: () => number): number {
  for (let i = 0; i < 200; i++) step(); // JIT warm-up
  let units = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < ms) units += step();
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / units;
}

/** A monitor over `n` endpoints that scrapes nothing, its in-flight ledger and (optionally) a hybrid detector. */
async function dispatchThread(build: Build, n: number, withDetector: boolean) {
  const { datalayer, saturation, core } = build;
  const ports = Array.from({ length: n }, (_, i) => 10_000 + i);
  const tracker = new datalayer.InflightTracker();
  // A fetcher that never answers: nothing is scraped for real (the first endpoint's one attempt times out).
  const hung = () => ({ start: () => undefined, abort: () => undefined, close: () => Promise.resolve() });
  const monitor = new datalayer.PoolMonitor({
    source: new datalayer.StaticEndpointSource(ports.map((port) => ({ host: '127.0.0.1', port }))),
    clock: new core.SystemClock(),
    fetcherFactory: hung,
    scrapeIntervalMs: HUGE_MS,
    staleAfterMs: HUGE_MS,
    scrapeListener: tracker,
  }) as MonitorInternals;
  await monitor.start();
  const detector = withDetector ? new saturation.HybridDetector({ pool: monitor.pool, inflight: tracker, stalenessMs: HUGE_MS }) : undefined;
  const ids = ports.map((port) => `127.0.0.1:${port}`);
  const close = async (): Promise<void> => {
    detector?.close();
    await monitor.close();
  };
  return { monitor, detector, ids, close };
}

/** Batches encoded as the worker encodes them, prepared beforehand (the worker's side is not measured): slots round the pool. */
function prepareBatches(build: Build, n: number, batch: number, moving: boolean): { nums: Float64Array; extras: unknown[] }[] {
  const writer = new build.wire.OutcomeBatchWriter(0);
  const prepared: { nums: Float64Array; extras: unknown[] }[] = [];
  let slot = 0;
  for (let b = 0; b < Math.ceil((4 * n) / batch); b++) {
    for (let k = 0; k < batch; k++) {
      const now = performance.now();
      writer.add(slot, { ok: true, metrics: metricsOf(slot, moving ? b : 0), startedAt: now, finishedAt: now });
      slot = (slot + 1) % n;
    }
    prepared.push(writer.take());
  }
  return prepared;
}

async function applyCase(build: Build, n: number, batch: number, ms: number, moving: boolean, withDetector = true): Promise<number> {
  const { monitor, detector, ids, close } = await dispatchThread(build, n, withDetector);
  const reader = new build.wire.OutcomeBatchReader();
  const prepared = prepareBatches(build, n, batch, moving);
  let next = 0;
  const step = (): number => {
    const p = prepared[next++ % prepared.length];
    if (p === undefined) return 0;
    // The prepared arrays are read again each round: the reader keeps nothing of them (the worker's are fresh each time).
    const nums = p.nums;
    if (monitor.applyBatch !== undefined) {
      monitor.applyBatch((emit) => reader.read(nums, p.extras, 0, (s, outcome) => emit(ids[s] ?? '', outcome)));
    } else {
      reader.read(nums, p.extras, 0, (s, outcome) => monitor.enqueue?.(ids[s] ?? '', outcome));
      monitor.flush?.();
    }
    detector?.saturation();
    return batch;
  };
  try {
    return perUnit(ms, step);
  } finally {
    await close();
  }
}

/**
 * What a busy worker's loop turn of `burst` outcomes arriving at once costs the dispatch thread in one stretch: the
 * longest run of work between two chances for its timers and I/O (the apply and the detector read that follows it
 * as flow control's), us, median over bursts. A build with OutcomeBacklog applies APPLY_PER_TURN at a time (one
 * stretch per loop turn); older ones, and `bounded: false`, apply the whole batch at once.
 */
async function burstCase(build: Build, n: number, burst: number, ms: number, bounded = true): Promise<number> {
  const { monitor, detector, ids, close } = await dispatchThread(build, n, true);
  const reader = new build.wire.OutcomeBatchReader();
  const prepared = prepareBatches(build, n, burst, true);
  const { OutcomeBacklog, APPLY_PER_TURN } = build.wire;
  const backlog = OutcomeBacklog === undefined || !bounded ? undefined : new OutcomeBacklog();
  const apply = monitor.applyBatch?.bind(monitor);
  if (apply === undefined) throw new Error(`${build.name}: PoolMonitor has no applyBatch`);
  const longest: number[] = [];
  let next = 0;
  const one = (): void => {
    const p = prepared[next++ % prepared.length];
    if (p === undefined) return;
    let max = 0;
    if (backlog === undefined || APPLY_PER_TURN === undefined) {
      const t = performance.now();
      apply((emit) => reader.read(p.nums, p.extras, 0, (s, outcome) => emit(ids[s] ?? '', outcome)));
      detector?.saturation();
      max = performance.now() - t;
    } else {
      backlog.push(p.nums, p.extras, reader, 0);
      while (backlog.pending) {
        const t = performance.now();
        apply((emit) => backlog.read(reader, 0, (s, outcome) => emit(ids[s] ?? '', outcome), APPLY_PER_TURN));
        detector?.saturation();
        max = Math.max(max, performance.now() - t);
      }
    }
    longest.push(max * 1000);
  };
  try {
    for (let i = 0; i < 50; i++) one(); // JIT warm-up
    longest.length = 0;
    const start = performance.now();
    while (performance.now() - start < ms) one();
    return median(longest);
  } finally {
    await close();
  }
}

function dispatchCase(build: Build, n: number, ms: number): number {
  const { datalayer, saturation } = build;
  const store = new datalayer.PoolStore({ staleAfterMs: HUGE_MS });
  const tracker = new datalayer.InflightTracker();
  const ids = Array.from({ length: n }, (_, i) => store.upsert({ host: '10.1.0.1', port: 10_000 + i }));
  store.batch(() => {
    for (const [i, id] of ids.entries()) store.recordMetrics(id, metricsOf(i, 0), performance.now());
  });
  const detector = new saturation.HybridDetector({ pool: store, inflight: tracker, stalenessMs: HUGE_MS });
  const live: unknown[] = [];
  let k = 0;
  const step = (): number => {
    const id = ids[(k++ * 7919) % n] ?? '';
    detector.saturation();
    live.push(tracker.begin(id, 500));
    if (live.length > 200) {
      tracker.end(live.shift());
      detector.saturation();
    }
    return 1;
  };
  try {
    return perUnit(ms, step);
  } finally {
    detector.close();
  }
}

export async function run(options: DispatchSideOptions = {}): Promise<object> {
  const n = options.endpoints ?? 1000;
  const batch = options.batch ?? 40;
  const rounds = options.rounds ?? 5;
  const ms = options.caseMs ?? 600;
  const builds = await loadBuilds(load, options.baselineRoot);
  const cases: [string, (b: Build) => Promise<number>][] = [
    [`apply a worker batch of ${batch}, figures moving (us per result)`, (b) => applyCase(b, n, batch, ms, true)],
    [`apply a worker batch of ${batch}, figures unchanged (us per result)`, (b) => applyCase(b, n, batch, ms, false)],
    [`apply a worker batch of ${batch}, figures moving, no detector (us per result)`, (b) => applyCase(b, n, batch, ms, true, false)],
    ['a dispatch: begin + saturation(), end + saturation() (us per dispatch)', (b) => Promise.resolve(dispatchCase(b, n, ms))],
    [`a busy worker's loop turn of ${BURST} outcomes at once: the longest stretch of dispatch-thread work (us, median of bursts)`, (b) => burstCase(b, n, BURST, ms)],
    [`the same, applied whole whatever the build (as before the bound; us)`, (b) => burstCase(b, n, BURST, ms, false)],
  ];
  const results: { case: string; build: string; us: number; values: number[] }[] = [];
  const loadBefore = loadavg()[0] ?? 0;
  for (const [name, fn] of cases) {
    const values = await alternate(builds, rounds, fn);
    for (const [i, b] of builds.entries()) {
      const v = values[i] ?? [];
      results.push({ case: name, build: b.name, us: Number(median(v).toFixed(2)), values: v.map((x) => Number(x.toFixed(2))) });
    }
  }
  const loadAfter = loadavg()[0] ?? 0;
  console.log(`\n### Dispatch-thread side, ${n} endpoints, one process, no sockets (medians of ${rounds} rounds; load ${loadBefore.toFixed(1)} -> ${loadAfter.toFixed(1)})\n`);
  console.log('| case | build | us (median) | rounds |');
  console.log('|---|---|---:|---|');
  for (const r of results) console.log(`| ${r.case} | ${r.build} | ${r.us} | ${r.values.join(', ')} |`);
  return { endpoints: n, batch, results };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));
  const endpoints = num('endpoints');
  const batch = num('batch');
  run({
    ...buildCompareArgs(),
    ...(endpoints !== undefined ? { endpoints } : {}),
    ...(batch !== undefined ? { batch } : {}),
  })
    .then((result) => console.log(`\n${JSON.stringify(result)}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
