// Other replicas' in-flight loads reaching a detector at pool scale (issue 14: "without slowing dispatch"): one
// sync round of the shared state applied by the in-flight channel (InflightChannel.apply, as the exchange calls it
// after each round) and the hybrid detector read once after it (what flow control does while work is queued), in
// CPU microseconds per round, with 1,000 endpoints on which another replica has work in flight and a given number
// of them moved by the round. This build beside another (`--baseline-root`, e.g. the session's start), alternating
// in each round, medians. In one process and without the store: the round's answer is prepared beforehand.
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { argValue } from '../argv.js';
import { type BuildCompareOptions, alternate, buildCompareArgs, cpuPerStep, importBuilt, loadBuilds } from '../build-compare.js';
import { median } from '../engine/stats.js';

export interface PeerSyncOptions extends BuildCompareOptions {
  /** Endpoints in the pool. @default 1000 */
  readonly endpoints?: number;
  /** Endpoints whose peer load each case's rounds move. @default [1, 20, 1000] */
  readonly moved?: readonly number[];
}

/** The parts of a build used here, loaded from its dist/. */
interface Build {
  readonly name: string;
  readonly datalayer: {
    InflightTracker: new () => unknown;
    CombinedInflight: new (local: unknown, peers: unknown) => unknown;
    PoolStore: new (options: Record<string, unknown>) => Store;
  };
  readonly sharedstate: { InflightChannel: new (options: Record<string, unknown>) => Channel };
  readonly saturation: { HybridDetector: new (deps: Record<string, unknown>, options?: Record<string, unknown>) => Detector };
}
interface Store {
  upsert(spec: { host: string; port: number }): string;
  recordMetrics(id: string, metrics: object, at: number): void;
  batch(fn: () => void): void;
  current(): { endpoints: readonly { id: string }[] };
  close(): void;
}
interface Channel {
  apply(view: object): void;
}
interface Detector {
  saturation(): number;
  close(): void;
}

async function load(root: string, name: string): Promise<Build> {
  const imp = (path: string): Promise<unknown> => importBuilt(root, path);
  return {
    name,
    datalayer: (await imp('datalayer/index.js')) as Build['datalayer'],
    sharedstate: (await imp('sharedstate/index.js')) as Build['sharedstate'],
    saturation: (await imp('saturation/index.js')) as Build['saturation'],
  };
}

const HUGE_MS = 1e9;
/** Calls before timing (JIT). */
const WARMUP = 200;

/** A peer's report on one endpoint as the channel encodes it: requests, tokens, since-scrape, ended, read time. */
function report(requests: number): string {
  return `${requests},${requests * 500},1,500,0,0,0`;
}


/**
 * The peer's fields as the store returns them after each round: each round moves the next `moved` endpoints from 2
 * to 3 requests in flight (back on the next pass), so every round differs from the one before in exactly `moved`
 * endpoints. The map is updated in place (k sets per round, strings made once): the exchange hands the channel a
 * new map each round, which the channel only reads.
 */
function roundSource(ids: readonly string[], moved: number): () => Map<string, string> {
  const two = report(2);
  const three = report(3);
  const fields = new Map(ids.map((id) => [id, two]));
  let next = 0;
  return () => {
    for (let k = 0; k < moved; k++) {
      const id = ids[next++ % ids.length] ?? '';
      fields.set(id, fields.get(id) === two ? three : two);
    }
    return fields;
  };
}

function syncCase(build: Build, n: number, moved: number, ms: number): number {
  const { datalayer, sharedstate, saturation } = build;
  const store = new datalayer.PoolStore({ staleAfterMs: HUGE_MS });
  const ids = Array.from({ length: n }, (_, i) => store.upsert({ host: '10.1.0.1', port: 10_000 + i }));
  store.batch(() => {
    for (const [i, id] of ids.entries()) {
      const metrics = { waitingQueue: i % 3, runningRequests: 4 + (i % 5), kvCacheUsage: 0.25 + (i % 50) / 100, loraRunning: [], loraWaiting: [], maxLora: 0, kvBlockSize: 16, kvNumBlocks: 10_000 };
      store.recordMetrics(id, metrics, performance.now());
    }
  });
  const tracker = new datalayer.InflightTracker();
  const channel = new sharedstate.InflightChannel({
    local: tracker,
    endpoints: () => store.current().endpoints.map((e) => e.id),
    time: { toShared: (ms: number) => ms, toLocal: (ms: number) => ms },
  });
  const detector = new saturation.HybridDetector({ pool: store, inflight: new datalayer.CombinedInflight(tracker, channel), stalenessMs: HUGE_MS });
  const nextRound = roundSource(ids, moved);
  const changed = new Set(['b']);
  const step = (): void => {
    const fields = nextRound();
    channel.apply({
      connected: true,
      peers: new Map([['b', fields]]),
      stale: new Set(),
      changed,
      granted: new Map(),
      toLocal: (ms: number) => ms,
      toShared: (ms: number) => ms,
    });
    detector.saturation();
  };
  try {
    return cpuPerStep(ms, step, WARMUP);
  } finally {
    detector.close();
    store.close();
  }
}

export async function run(options: PeerSyncOptions = {}): Promise<object> {
  const n = options.endpoints ?? 1000;
  const movedCases = options.moved ?? [1, 20, n];
  const rounds = options.rounds ?? 5;
  const ms = options.caseMs ?? 600;
  const builds = await loadBuilds(load, options.baselineRoot);
  const results: { case: string; build: string; us: number; values: number[] }[] = [];
  const loadBefore = loadavg()[0] ?? 0;
  for (const moved of movedCases) {
    const name = `a sync round moving ${moved} of ${n} endpoints' peer loads + saturation() (us per round)`;
    const values = await alternate(builds, rounds, (b) => syncCase(b, n, moved, ms));
    for (const [i, b] of builds.entries()) {
      const v = values[i] ?? [];
      results.push({ case: name, build: b.name, us: Number(median(v).toFixed(1)), values: v.map((x) => Number(x.toFixed(1))) });
    }
  }
  const loadAfter = loadavg()[0] ?? 0;
  console.log(`\n### Peer loads at pool scale, ${n} endpoints, one process (medians of ${rounds} rounds; load ${loadBefore.toFixed(1)} -> ${loadAfter.toFixed(1)})\n`);
  console.log('| case | build | us (median) | rounds |');
  console.log('|---|---|---:|---|');
  for (const r of results) console.log(`| ${r.case} | ${r.build} | ${r.us} | ${r.values.join(', ')} |`);
  return { endpoints: n, results };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // --endpoints=N --rounds=N --case-ms=N --baseline-root=DIR
  const options: { -readonly [K in keyof PeerSyncOptions]: PeerSyncOptions[K] } = buildCompareArgs();
  if (argValue('endpoints') !== undefined) options.endpoints = Number(argValue('endpoints'));
  run(options).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
