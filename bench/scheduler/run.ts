// Scheduler benchmark: scheduling latency with 100 endpoints, prefix hashing throughput, large-prompt cost.
import { pathToFileURL } from 'node:url';
import { SeededRandom, Summary } from '../../src/core/index.js';
import { type EndpointSnapshot, type InflightLoad, type InflightView, NO_INFLIGHT } from '../../src/datalayer/index.js';
import { type PrefixHasher, Scheduler, createPrefixHasher } from '../../src/scheduler/index.js';

const ENDPOINTS = 100;
const REPETITIONS = 5;
const TARGETS = { scheduleP50Us: 50, hashMBps: 500, largeScheduleMs: 2 };

interface Row {
  readonly case: string;
  readonly p50Us: number;
  readonly p99Us: number;
}

function makePool(random: SeededRandom): EndpointSnapshot[] {
  return Array.from({ length: ENDPOINTS }, (_, i) => ({
    id: `10.0.${i >> 8}.${i & 255}:8000`,
    host: `10.0.${i >> 8}.${i & 255}`,
    port: 8000,
    labels: {},
    metrics: {
      waitingQueue: Math.floor(random.next() * 4),
      runningRequests: Math.floor(random.next() * 32),
      kvCacheUsage: random.next() * 0.7,
      loraRunning: [],
      loraWaiting: [],
      maxLora: 0,
      kvNumBlocks: 31_250,
    },
    scrapedAt: 0,
    stale: false,
  }));
}

/** A realistic parsed body: JSON.parse gives flat strings, unlike `repeat`. */
function body(tokens: number, seed: number): unknown {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'];
  const random = new SeededRandom(seed);
  const parts: string[] = [];
  let chars = 0;
  while (chars < tokens * 4) {
    const w = words[Math.floor(random.next() * words.length)] ?? 'x';
    parts.push(w);
    chars += w.length + 1;
  }
  const prompt = parts.join(' ').slice(0, tokens * 4);
  return JSON.parse(JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: prompt }] })) as unknown;
}

const inflightView = (loads: Map<string, InflightLoad>): InflightView => ({ load: (id) => loads.get(id) ?? NO_INFLIGHT });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Runs `fn` `iterations` times and returns p50/p99 in microseconds. */
function latency(iterations: number, fn: () => void): { p50: number; p99: number } {
  for (let i = 0; i < Math.min(200, iterations); i++) fn(); // warm-up (JIT)
  const summary = new Summary();
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    fn();
    summary.add((performance.now() - t0) * 1000);
  }
  return { p50: summary.percentile(50), p99: summary.percentile(99) };
}

function repeat(name: string, iterations: number, fn: () => void): Row {
  const p50s: number[] = [];
  const p99s: number[] = [];
  for (let r = 0; r < REPETITIONS; r++) {
    const { p50, p99 } = latency(iterations, fn);
    p50s.push(p50);
    p99s.push(p99);
  }
  return { case: name, p50Us: median(p50s), p99Us: median(p99s) };
}

function hashThroughput(hasher: PrefixHasher, b: unknown, bytes: number): number {
  const rates: number[] = [];
  for (let r = 0; r < REPETITIONS; r++) {
    for (let i = 0; i < 20; i++) hasher.hashBody(b);
    const n = 200;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) hasher.hashBody(b);
    const seconds = (performance.now() - t0) / 1000;
    rates.push((bytes * n) / seconds / 1e6);
  }
  return median(rates);
}

export async function run(): Promise<object> {
  const random = new SeededRandom(42);
  const endpoints = makePool(random);
  const snapshot = { version: 1, takenAt: 0, endpoints };
  const loads = new Map<string, InflightLoad>();
  for (const e of endpoints) loads.set(e.id, { ...NO_INFLIGHT, requestsSinceScrape: Math.floor(random.next() * 3) });
  const inflight = inflightView(loads);
  const hasher = await createPrefixHasher();
  const scheduler = new Scheduler({ random: new SeededRandom(7) });

  const small = body(1_000, 1);
  const large = body(100_000, 2);
  const smallHashes = hasher.hashBody(small);
  const largeHashes = hasher.hashBody(large);
  // Warm the index: 10 endpoints hold the large prompt (up to various depths), 30 hold unrelated prompts.
  for (let i = 0; i < 10; i++) {
    const e = endpoints[i * 7] as EndpointSnapshot;
    scheduler.recordRouting(largeHashes.subarray(0, Math.floor((largeHashes.length * (i + 1)) / 10)), e);
    scheduler.recordRouting(smallHashes.subarray(0, Math.floor((smallHashes.length * (i + 1)) / 10)), e);
  }
  for (let i = 0; i < 30; i++) scheduler.recordRouting(hasher.hashBody(body(4_000, 100 + i)), endpoints[i * 3 + 1] as EndpointSnapshot);

  const largeBytes = 100_000 * 4;
  const rows: Row[] = [
    repeat('schedule only, 1k-token prompt (62 blocks)', 5_000, () => {
      scheduler.schedule({ model: 'llama', prefixHashes: smallHashes }, snapshot, inflight);
    }),
    repeat('schedule only, 100k-token prompt (6,250 blocks)', 2_000, () => {
      scheduler.schedule({ model: 'llama', prefixHashes: largeHashes }, snapshot, inflight);
    }),
    repeat('hash + schedule, 1k-token prompt', 5_000, () => {
      scheduler.schedule({ model: 'llama', prefixHashes: hasher.hashBody(small) }, snapshot, inflight);
    }),
    repeat('hash + schedule, 100k-token (400 KB) prompt', 500, () => {
      scheduler.schedule({ model: 'llama', prefixHashes: hasher.hashBody(large) }, snapshot, inflight);
    }),
    repeat('hash + schedule + recordRouting, 400 KB prompt', 500, () => {
      const hashes = hasher.hashBody(large);
      const r = scheduler.schedule({ model: 'llama', prefixHashes: hashes }, snapshot, inflight);
      if (r.kind === 'scheduled' && r.endpoints[0] !== undefined) scheduler.recordRouting(hashes, r.endpoints[0]);
    }),
  ];
  const hashMBps = hashThroughput(hasher, large, largeBytes);

  const large400 = rows[3] as Row;
  const result = {
    endpoints: ENDPOINTS,
    repetitions: REPETITIONS,
    node: process.version,
    rows,
    hashMBps,
    targets: TARGETS,
    meets: {
      scheduleP50: (rows[0] as Row).p50Us <= TARGETS.scheduleP50Us && (rows[1] as Row).p50Us <= TARGETS.scheduleP50Us,
      hashing: hashMBps >= TARGETS.hashMBps,
      largePrompt: large400.p50Us / 1000 <= TARGETS.largeScheduleMs,
    },
  };
  const fmt = (x: number): string => x.toFixed(1);
  console.log(`\n### Scheduler (${ENDPOINTS} endpoints, default profile, median of ${REPETITIONS} runs, Node ${process.version})\n`);
  console.log('| case | p50 (us) | p99 (us) |');
  console.log('|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.case} | ${fmt(r.p50Us)} | ${fmt(r.p99Us)} |`);
  console.log(`\nPrefix hashing (parsed 400 KB chat body -> block keys): **${hashMBps.toFixed(0)} MB/s**`);
  console.log(
    `\nTargets: schedule p50 <= ${TARGETS.scheduleP50Us} us (${result.meets.scheduleP50 ? 'met' : 'MISSED'}); ` +
      `hashing >= ${TARGETS.hashMBps} MB/s (${result.meets.hashing ? 'met' : 'MISSED'}); ` +
      `400 KB hash + schedule <= ${TARGETS.largeScheduleMs} ms (${result.meets.largePrompt ? 'met' : 'MISSED'})`,
  );
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
