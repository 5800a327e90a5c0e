// The scheduler's pick at pool scale (issue 14: "without slowing dispatch"): one Scheduler.schedule with the
// default profile (saturation filter asking a hybrid detector, queue, KV-cache, prefix-cache, in-flight load and
// LoRA-affinity scorers, max-score picker) over 10, 100 and 1,000 endpoints, a warm prefix index, a 1k-token
// prompt (one of 64, so prefix matches vary), and each pick followed by what the dispatch does next (the in-flight
// ledger's begin on the primary, an older request's end), so loads and scores move as in service. CPU microseconds
// per pick and picks per second of one thread; this build beside another (`--baseline-root`, e.g. the session's
// start), alternating in each round, medians. In one process, no sockets.
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { argValue } from '../argv.js';
import { type BuildCompareOptions, alternate, buildCompareArgs, cpuPerStep, importBuilt, loadBuilds } from '../build-compare.js';
import { median } from '../engine/stats.js';

export interface PoolScaleOptions extends BuildCompareOptions {
  /** Pool sizes. @default [10, 100, 1000] */
  readonly sizes?: readonly number[];
}

interface Snapshot {
  readonly endpoints: readonly { readonly id: string }[];
}
/** The parts of a build used here, loaded from its dist/. */
interface Build {
  readonly name: string;
  readonly datalayer: {
    InflightTracker: new () => Tracker;
    PoolStore: new (options: Record<string, unknown>) => Store;
  };
  readonly saturation: { HybridDetector: new (deps: Record<string, unknown>, options?: Record<string, unknown>) => Detector };
  readonly scheduler: {
    Scheduler: new (options: Record<string, unknown>) => SchedulerLike;
    createPrefixHasher: () => Promise<{ hashBody(body: unknown): ArrayLike<number> }>;
  };
  readonly core: { SeededRandom: new (seed: number) => unknown };
}
interface Tracker {
  begin(id: string, tokens: number): unknown;
  end(ticket: unknown): boolean;
}
interface Store {
  upsert(spec: { host: string; port: number }): string;
  recordMetrics(id: string, metrics: object, at: number): void;
  batch(fn: () => void): void;
  current(): Snapshot;
  close(): void;
}
interface Detector {
  close(): void;
}
interface SchedulerLike {
  schedule(request: object, pool: Snapshot, inflight: Tracker): { kind: string; endpoints?: readonly { id: string }[] };
  recordRouting(hashes: ArrayLike<number>, endpoint: { id: string }): unknown;
}

async function load(root: string, name: string): Promise<Build> {
  const imp = (path: string): Promise<unknown> => importBuilt(root, path);
  return {
    name,
    datalayer: (await imp('datalayer/index.js')) as Build['datalayer'],
    saturation: (await imp('saturation/index.js')) as Build['saturation'],
    scheduler: (await imp('scheduler/index.js')) as Build['scheduler'],
    core: (await imp('core/index.js')) as Build['core'],
  };
}

const HUGE_MS = 1e9;
const PROMPTS = 64;
/** Picks before timing (JIT). */
const WARMUP = 500;

/** A chat body of about `tokens` tokens whose first half is shared by every prompt of the same `family`. */
function body(tokens: number, family: number, seed: number): unknown {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'];
  const text = (n: number, s: number): string => {
    const parts: string[] = [];
    let x = s;
    let chars = 0;
    while (chars < n * 4) {
      x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
      const w = words[x % words.length] ?? 'x';
      parts.push(w);
      chars += w.length + 1;
    }
    return parts.join(' ');
  };
  return JSON.parse(JSON.stringify({ model: 'llama', messages: [{ role: 'system', content: text(tokens / 2, family + 1) }, { role: 'user', content: text(tokens / 2, 1_000 + seed) }] })) as unknown;
}


async function pickCase(build: Build, n: number, ms: number): Promise<number> {
  const { datalayer, saturation, scheduler, core } = build;
  const store = new datalayer.PoolStore({ staleAfterMs: HUGE_MS });
  const ids = Array.from({ length: n }, (_, i) => store.upsert({ host: `10.2.${i >> 8}.${i & 255}`, port: 8000 }));
  store.batch(() => {
    for (const [i, id] of ids.entries()) {
      // Spread figures, none saturated: the filter keeps most endpoints, every scorer has something to compare.
      const metrics = { waitingQueue: i % 3, runningRequests: 8 + (i % 17), kvCacheUsage: 0.1 + ((i * 37) % 60) / 100, loraRunning: [], loraWaiting: [], maxLora: 0, kvBlockSize: 16, kvNumBlocks: 31_250 };
      store.recordMetrics(id, metrics, performance.now());
    }
  });
  const tracker = new datalayer.InflightTracker();
  const detector = new saturation.HybridDetector({ pool: store, inflight: tracker, stalenessMs: HUGE_MS });
  const sched = new scheduler.Scheduler({ random: new core.SeededRandom(7), saturation: detector });
  const hasher = await scheduler.createPrefixHasher();
  const prompts = Array.from({ length: PROMPTS }, (_, p) => hasher.hashBody(body(1_000, p % 8, p)));
  // Warm the index: each prompt was sent to a few endpoints before (its family's shared half to more).
  for (const [p, hashes] of prompts.entries()) {
    for (let k = 0; k < 3; k++) {
      const id = ids[(p * 31 + k * 17) % n];
      if (id !== undefined) sched.recordRouting(hashes, { id });
    }
  }
  const live: unknown[] = [];
  let i = 0;
  const step = (): void => {
    const hashes = prompts[i++ % PROMPTS] ?? [];
    const r = sched.schedule({ model: 'llama', prefixHashes: hashes }, store.current(), tracker);
    const primary = r.endpoints?.[0];
    if (primary === undefined) throw new Error(`no pick: ${r.kind}`);
    live.push(tracker.begin(primary.id, 1_500));
    if (live.length > 2 * n) tracker.end(live.shift());
  };
  try {
    return cpuPerStep(ms, step, WARMUP);
  } finally {
    detector.close();
    store.close();
  }
}

export async function run(options: PoolScaleOptions = {}): Promise<object> {
  const sizes = options.sizes ?? [10, 100, 1000];
  const rounds = options.rounds ?? 5;
  const ms = options.caseMs ?? 600;
  const builds = await loadBuilds(load, options.baselineRoot);
  const results: { endpoints: number; build: string; usPerPick: number; picksPerSecond: number; values: number[] }[] = [];
  const loadBefore = loadavg()[0] ?? 0;
  for (const n of sizes) {
    const values = await alternate(builds, rounds, (b) => pickCase(b, n, ms));
    for (const [i, b] of builds.entries()) {
      const v = values[i] ?? [];
      const us = median(v);
      results.push({ endpoints: n, build: b.name, usPerPick: Number(us.toFixed(2)), picksPerSecond: Math.round(1e6 / us), values: v.map((x) => Number(x.toFixed(2))) });
    }
  }
  const loadAfter = loadavg()[0] ?? 0;
  console.log(`\n### Scheduler pick at pool scale, default profile + hybrid detector (CPU, medians of ${rounds} rounds; load ${loadBefore.toFixed(1)} -> ${loadAfter.toFixed(1)})\n`);
  console.log('| endpoints | build | us per pick (median) | picks/s of one thread | rounds (us) |');
  console.log('|---:|---|---:|---:|---|');
  for (const r of results) console.log(`| ${r.endpoints} | ${r.build} | ${r.usPerPick} | ${r.picksPerSecond.toLocaleString('en-US')} | ${r.values.join(', ')} |`);
  return { results };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // --sizes=10,100,1000 --rounds=N --case-ms=N --baseline-root=DIR
  const options: { -readonly [K in keyof PoolScaleOptions]: PoolScaleOptions[K] } = buildCompareArgs();
  if (argValue('sizes') !== undefined) options.sizes = (argValue('sizes') ?? '').split(',').map(Number);
  run(options).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
