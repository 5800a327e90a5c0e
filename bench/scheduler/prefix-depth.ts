// Prefix hashing depth: which depth still buys cache hits. Agent conversations (one prefix shared by every
// session, then each session's own history, growing turn by turn to 126k tokens in all) plus one-shot requests on
// the same prefix, replayed on 8 simulated H100 pods in virtual time through the `fairway` system, once per depth
// (`maxPrefixBlocksToMatch`), for a 6k-token shared system prompt and a 30k-token shared document. Reports the
// engines' prefix-cache hit rate and TTFT per depth, and what the depth costs the gateway per request in CPU
// time: hashing the prompt, then scheduling and recording it in the prefix index. At the default depth it also
// compares key schedules (a key per block against the default's sparse keys past the dense head);
// `--depths=8192 --schedules=1,256:8,256:16` picks depths and schedules (keyEvery, or denseBlocks:keyEvery).
import { pathToFileURL } from 'node:url';
import { type Random, SeededRandom, Summary } from '../../src/core/index.js';
import { type EndpointSnapshot, NO_INFLIGHT } from '../../src/datalayer/index.js';
import { makePrompt, nextGapMs } from '../../src/loadgen/index.js';
import { DEFAULT_DENSE_BLOCKS, DEFAULT_KEY_EVERY, DEFAULT_MAX_PREFIX_BLOCKS, type PrefixHasher, Scheduler, createPrefixHasherSync } from '../../src/scheduler/index.js';
import { H100_8B_PROFILE, textBlockHashes } from '../../src/simulator/index.js';
import { writeResults } from '../results-file.js';
import { type RunOutput, runSystem } from '../scenarios/run-system.js';
import { MODEL, type PlannedRequest } from '../scenarios/traffic.js';
import { argValue as arg } from '../argv.js';

/** Blocks of 64 bytes (16 tokens): 256 is the Go EPP's default (16 KB), 8192 Fairway's before this bench. */
export const DEPTHS = [256, 1024, 2048, 4096, 8192, 16_384] as const;
const BLOCK_BYTES = 64;
const ENGINE_BLOCK_TOKENS = 16;
const PODS = 8;
const SEED = 19;
/** Prompt tokens at most (shared prefix and history), below the H100 profile's 131,072-token window. */
const LONGEST_PROMPT_TOKENS = 126_000;

/**
 * Shared prefixes: an agent's system prompt with tool definitions (longer than Go's whole depth, 16 KB = 4k
 * tokens), and a long shared document (RAG, a code base summary) in front of every conversation.
 */
export const SHARED_PREFIXES = [
  { name: 'system prompt', tokens: 6_000 },
  { name: 'shared document', tokens: 30_000 },
] as const;

/** Which blocks get a key: every one of the first `denseBlocks`, then every `keyEvery`-th and the last. */
export interface KeySchedule {
  readonly denseBlocks: number;
  readonly keyEvery: number;
}

const DEFAULT_SCHEDULE: KeySchedule = { denseBlocks: DEFAULT_DENSE_BLOCKS, keyEvery: DEFAULT_KEY_EVERY };
/** At the default depth, every block keyed (the index before sparse keys) beside the hasher's default. */
export const SCHEDULES_AT_DEFAULT_DEPTH: readonly KeySchedule[] = [{ denseBlocks: 0, keyEvery: 1 }, DEFAULT_SCHEDULE];

export interface DepthOptions {
  /** Fewer sessions and shorter traffic. @default false */
  readonly quick?: boolean;
  readonly depths?: readonly number[];
  /** Key schedules to compare at each depth. @default the hasher's, and every block too at the default depth */
  readonly schedules?: readonly KeySchedule[];
}

const scheduleName = (k: KeySchedule): string => (k.keyEvery === 1 ? 'every block' : `${k.denseBlocks} then 1/${k.keyEvery}`);

/** One prompt of the traffic, before any depth is chosen. */
interface PromptPlan {
  readonly id: string;
  readonly cls: 'agent' | 'one-shot';
  readonly arrivalMs: number;
  readonly text: string;
  readonly maxTokens: number;
  readonly outputTokens: number;
  readonly blockHashes: readonly number[];
}

function outputOf(random: Random, maxTokens: number): number {
  const half = Math.ceil(maxTokens / 2);
  return half + Math.floor(random.next() * (maxTokens - half + 1));
}

/**
 * Sessions start spread over the first minute; each sends `turns` requests a think time apart (exponential, mean
 * 15 s), its history growing evenly to its final length (2k tokens up to 126k tokens of prompt across sessions).
 * One-shot requests (the shared prefix and 1k-3k tokens of their own) arrive at 2 per second throughout.
 */
function planPrompts(quick: boolean, sharedTokens: number): PromptPlan[] {
  const sessions = quick ? 16 : 32;
  const random = new SeededRandom(SEED);
  const system = makePrompt(new SeededRandom(SEED + 1), sharedTokens, '').slice(0, sharedTokens * 4);
  const out: PromptPlan[] = [];
  let lastArrival = 0;
  const longestHistory = LONGEST_PROMPT_TOKENS - sharedTokens;
  for (let s = 0; s < sessions; s++) {
    const finalTokens = Math.round(2_000 + ((longestHistory - 2_000) * s) / (sessions - 1));
    const turns = 6 + (s % 5) * 2;
    const history = makePrompt(new SeededRandom(SEED + 100 + s), finalTokens, '');
    let t = random.next() * 60_000;
    for (let k = 0; k < turns; k++) {
      const text = `${system} ${history.slice(0, Math.round((finalTokens * 4 * (k + 1)) / turns))}`;
      out.push(plan(`s${s}-t${k}`, 'agent', t, text, 300, random));
      lastArrival = Math.max(lastArrival, t);
      t += Math.max(3_000, nextGapMs(random, 1 / 15));
    }
  }
  for (let t = nextGapMs(random, 2), i = 0; t < lastArrival; t += nextGapMs(random, 2), i++) {
    const own = 1_000 + Math.floor(random.next() * 2_000);
    out.push(plan(`o${i}`, 'one-shot', t, makePrompt(random, sharedTokens + own, `${system} `), 200, random));
  }
  return out.sort((a, b) => a.arrivalMs - b.arrivalMs || a.id.localeCompare(b.id));
}

function plan(id: string, cls: PromptPlan['cls'], arrivalMs: number, text: string, maxTokens: number, random: Random): PromptPlan {
  return {
    id,
    cls,
    arrivalMs,
    text,
    maxTokens,
    outputTokens: outputOf(random, maxTokens),
    blockHashes: textBlockHashes(text, ENGINE_BLOCK_TOKENS, MODEL),
  };
}

function planned(p: PromptPlan, hasher: PrefixHasher): PlannedRequest {
  return {
    id: p.id,
    cls: p.cls,
    tenant: p.cls,
    priority: 0,
    arrivalMs: p.arrivalMs,
    promptTokens: Math.ceil(p.text.length / 4),
    promptChars: p.text.length,
    maxTokens: p.maxTokens,
    outputTokens: p.outputTokens,
    clientTimeoutMs: 600_000,
    schedulerHashes: hasher.hashText(p.text, MODEL),
    blockHashes: p.blockHashes,
  };
}

interface GatewayCost {
  /** Mean per request over the traffic (µs), median of the repetitions. */
  readonly hashUs: number;
  readonly scheduleAndRecordUs: number;
  /** The same for the longest prompts (>= 100k tokens). */
  readonly hashUsLongest: number;
  readonly scheduleAndRecordUsLongest: number;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** CPU time of the process in ms (user + system): unlike wall time, not inflated when a busy host preempts us. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * What the depth costs per request on the gateway's thread: hashText, then schedule + recordRouting on a warm
 * index (the traffic replayed in arrival order over 8 idle endpoints), in CPU time per request (each reading
 * costs about a microsecond, the same at every depth); median of 3 replays after one that warms up.
 */
function gatewayCost(prompts: readonly PromptPlan[], depth: number, keys: KeySchedule): GatewayCost {
  const endpoints: EndpointSnapshot[] = Array.from({ length: PODS }, (_, i) => ({
    id: `pod-${i}:8000`,
    host: `pod-${i}`,
    port: 8000,
    labels: {},
    metrics: { waitingQueue: 0, runningRequests: 4, kvCacheUsage: 0.3, loraRunning: [], loraWaiting: [], maxLora: 0, kvBlockSize: 16, kvNumBlocks: 29_205 },
    scrapedAt: 0,
    stale: false,
  }));
  const snapshot = { version: 1, takenAt: 0, endpoints };
  const inflight = { load: () => NO_INFLIGHT };
  const long = (p: PromptPlan): boolean => p.text.length >= 400_000;
  const reps: GatewayCost[] = [];
  // Replay 0 warms the JIT and is not counted.
  for (let rep = 0; rep < 4; rep++) {
    const hasher = createPrefixHasherSync({ blockSize: BLOCK_BYTES, maxBlocks: depth, ...keys });
    const scheduler = new Scheduler({ random: new SeededRandom(SEED + rep) });
    let hash = 0;
    let sched = 0;
    let hashLong = 0;
    let schedLong = 0;
    let longCount = 0;
    for (const p of prompts) {
      const t0 = cpuMs();
      const hashes = hasher.hashText(p.text, MODEL);
      const t1 = cpuMs();
      const r = scheduler.schedule({ model: MODEL, prefixHashes: hashes }, snapshot, inflight);
      if (r.kind === 'scheduled' && r.endpoints[0] !== undefined) scheduler.recordRouting(hashes, r.endpoints[0]);
      const t2 = cpuMs();
      hash += t1 - t0;
      sched += t2 - t1;
      if (long(p)) {
        hashLong += t1 - t0;
        schedLong += t2 - t1;
        longCount++;
      }
    }
    const n = prompts.length;
    if (rep === 0) continue;
    reps.push({
      hashUs: (hash * 1000) / n,
      scheduleAndRecordUs: (sched * 1000) / n,
      hashUsLongest: (hashLong * 1000) / Math.max(1, longCount),
      scheduleAndRecordUsLongest: (schedLong * 1000) / Math.max(1, longCount),
    });
  }
  return {
    hashUs: median(reps.map((r) => r.hashUs)),
    scheduleAndRecordUs: median(reps.map((r) => r.scheduleAndRecordUs)),
    hashUsLongest: median(reps.map((r) => r.hashUsLongest)),
    scheduleAndRecordUsLongest: median(reps.map((r) => r.scheduleAndRecordUsLongest)),
  };
}

export interface DepthRow {
  readonly sharedPrefix: string;
  readonly sharedPrefixTokens: number;
  readonly depthBlocks: number;
  readonly keys: string;
  /** Prompt bytes hashed at most (blocks x 64 B) and the tokens that is (4 bytes per token). */
  readonly depthKB: number;
  readonly depthTokens: number;
  readonly completed: number;
  /** Prompt tokens served from the engines' prefix caches / prompt tokens looked up, at first admission. */
  readonly cacheHitRate: number;
  readonly ttftP50Ms: number;
  readonly ttftP99Ms: number;
  readonly ttftMeanMs: number;
  /** TTFT of the agent turns alone (the requests with history to reuse). */
  readonly agentTtftP50Ms: number;
  readonly agentTtftP99Ms: number;
  readonly cost: GatewayCost;
  readonly wallMs: number;
}

function ttft(run: RunOutput, cls?: string): Summary {
  const s = new Summary();
  for (const r of run.recorder.records.values()) {
    if (r.ttftMs !== undefined && r.outcome === 'completed' && (cls === undefined || r.cls === cls)) s.add(r.ttftMs);
  }
  return s;
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

export async function run(options: DepthOptions = {}): Promise<object> {
  const quick = options.quick ?? false;
  const rows: DepthRow[] = [];
  const traffic: Record<string, unknown>[] = [];
  for (const shared of SHARED_PREFIXES) {
    const prompts = planPrompts(quick, shared.tokens);
    traffic.push({
      sharedPrefix: shared.name,
      sharedPrefixTokens: shared.tokens,
      requests: prompts.length,
      agentTurns: prompts.filter((p) => p.cls === 'agent').length,
      longestPromptTokens: Math.max(...prompts.map((p) => Math.ceil(p.text.length / 4))),
    });
    for (const depth of options.depths ?? DEPTHS) {
      const schedules = options.schedules ?? (depth === DEFAULT_MAX_PREFIX_BLOCKS ? SCHEDULES_AT_DEFAULT_DEPTH : [DEFAULT_SCHEDULE]);
      for (const keys of schedules) rows.push(await measureDepth(prompts, shared, depth, keys));
    }
  }
  const result = { pods: PODS, profile: H100_8B_PROFILE.name, quick, node: process.version, traffic, rows };
  console.log(`\n### Prefix hashing depth (${PODS} simulated H100 pods, virtual time; gateway CPU per request)\n`);
  for (const t of traffic) console.log(`- ${JSON.stringify(t)}`);
  console.log('\n| shared prefix | depth (blocks / KB / tokens) | keys | cache hit | TTFT p50 / p99 / mean (ms) | agent TTFT p50 / p99 | hash us/req (>=100k) | schedule+record us/req (>=100k) |');
  console.log('|---|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.sharedPrefixTokens} | ${r.depthBlocks} / ${r.depthKB} / ${r.depthTokens} | ${r.keys} | ${(r.cacheHitRate * 100).toFixed(1)}% | ` +
        `${r.ttftP50Ms} / ${r.ttftP99Ms} / ${r.ttftMeanMs} | ${r.agentTtftP50Ms} / ${r.agentTtftP99Ms} | ` +
        `${round(r.cost.hashUs)} (${round(r.cost.hashUsLongest)}) | ${round(r.cost.scheduleAndRecordUs)} (${round(r.cost.scheduleAndRecordUsLongest)}) |`,
    );
  }
  writeResults('prefix-depth.json', result);
  return result;
}

async function measureDepth(prompts: readonly PromptPlan[], shared: (typeof SHARED_PREFIXES)[number], depth: number, keys: KeySchedule): Promise<DepthRow> {
  const hasher = createPrefixHasherSync({ blockSize: BLOCK_BYTES, maxBlocks: depth, ...keys });
  const out = await runSystem({
    system: 'fairway',
    pods: PODS,
    seed: SEED,
    requests: prompts.map((p) => planned(p, hasher)),
    tenants: ['agent', 'one-shot'],
    settings: { bands: [{ priority: 0, name: 'standard' }] },
    profile: H100_8B_PROFILE,
  });
  const all = ttft(out);
  const agent = ttft(out, 'agent');
  const cache = out.prefixCache ?? { queriedTokens: 0, cachedTokens: 0 };
  return {
    sharedPrefix: shared.name,
    sharedPrefixTokens: shared.tokens,
    depthBlocks: depth,
    keys: scheduleName(keys),
    depthKB: (depth * BLOCK_BYTES) / 1024,
    depthTokens: (depth * BLOCK_BYTES) / 4,
    completed: all.count,
    cacheHitRate: round(cache.cachedTokens / Math.max(1, cache.queriedTokens), 3),
    ttftP50Ms: round(all.percentile(50)),
    ttftP99Ms: round(all.percentile(99)),
    ttftMeanMs: round(all.mean()),
    agentTtftP50Ms: round(agent.percentile(50)),
    agentTtftP99Ms: round(agent.percentile(99)),
    cost: gatewayCost(prompts, depth, keys),
    wallMs: Math.round(out.wallMs),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // --depths=8192,4096 and --schedules=1,256:8 (keyEvery alone, or denseBlocks:keyEvery) narrow or widen the sweep.
  const depths = arg('depths')?.split(',').map(Number);
  const schedules = arg('schedules')
    ?.split(',')
    .map((s) => {
      const [a, b] = s.split(':').map(Number);
      return b === undefined ? { denseBlocks: 0, keyEvery: a ?? 1 } : { denseBlocks: a ?? 0, keyEvery: b };
    });
  run({ quick: process.argv.includes('--quick'), depths, schedules }).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
