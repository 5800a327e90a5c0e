// Long-context benchmark (issue 19): the whole Fairway server (pipeline, flow control, scheduler, prefix index,
// scraping 4 idle vLLM stand-ins) against a bare server, each in its own child process, driven by one load client
// in the same run: first through ext_proc (bare: bare-ext-proc-server.ts), then through the HTTP proxy (bare:
// bare-proxy.ts, forwarding to the same stand-ins). Per body size: server CPU per request and throughput
// (closed loop), medians of several alternating repetitions; then latency at an open-loop rate of 225 KB bodies.
//   node dist/bench/extproc/long-context.js [--quick] [--sizes=1k,64k,225k,1m] [--reps=3] [--only=extproc|proxy]
//     [--open-rate=100 (0: no open-loop phase)] [--cpu-prof-dir=DIR] [--node-args='--trace-gc ...' (Fairway child)]
//     [--baseline-root=DIR (another build's repository root: its Fairway runs beside this one as 'before')]
//     [--before-config=JSON (config merged over --config for a 'before' Fairway of this same build, e.g. a setting off)]
//     [--client-window=BYTES (the load client's HTTP/2 window; default 0: grpc-js's 64 KiB; see load-client.ts)]
//     [--bare-window=BYTES (ext_proc: also a bare server with these HTTP/2 windows, as 'bare-tuned')]
//     [--wide=150 (ext_proc: also a closed loop at this concurrency, 225 KB bodies in one message: BUFFERED)]
import { fork } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HttpLoad } from './http-load.js';
import { type ServerHandle, startServer } from './server-handle.js';
import { type BodyMode, LoadClient, type LoadResult } from './load-client.js';
import { argValue as arg } from '../argv.js';

const MODEL = 'bench-model';
/** Envoy streams a large body in pieces; 64 KiB as in the measurement. */
const CHUNK_BYTES = 65_536;
/** Distinct documents the prompts start with: shared prefixes, and enough of them to make the index evict. */
const DOCUMENTS = 12;
const SIZES: Record<string, number> = { '1k': 1_000, '64k': 64_000, '225k': 225_000, '1m': 1_000_000 };

/**
 * `before`: another build's Fairway (`--baseline-root`), measured in the same run for before/after figures;
 * `bare-tuned`: the bare ext_proc server with Fairway's HTTP/2 windows (`--bare-window`).
 */
type Kind = 'bare' | 'bare-tuned' | 'fairway' | 'before';

/** Closed and open loops against one server, over gRPC (ext_proc) or HTTP (proxy). */
interface Loader {
  closedLoop(next: () => Buffer, concurrency: number, durationMs: number): Promise<LoadResult>;
  openLoop(next: () => Buffer, ratePerSec: number, durationMs: number): Promise<LoadResult>;
  close(): void | Promise<void>;
}

type Front = 'extproc' | 'proxy';

interface LoaderOptions {
  readonly bodyMode?: BodyMode;
  /** The ext_proc client's HTTP/2 window (see LoadClientOptions.windowBytes). */
  readonly windowBytes?: number;
  /** Send `x-request-id` with each request, as Envoy does (LoadClientOptions.requestId). @default true */
  readonly requestId?: boolean;
}

/** `over` merged into `base` key by key, so `--before-config` changes one setting and keeps the rest of `--config`. */
function mergeDeep(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainRecord(b) && isPlainRecord(v) ? mergeDeep(b, v) : v;
  }
  return out;
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function loaderFor(front: Front, port: number, o: LoaderOptions = {}): Loader {
  if (front === 'proxy') return new HttpLoad(`http://127.0.0.1:${port}/v1/chat/completions`, o.requestId);
  return new LoadClient(`127.0.0.1:${port}`, { chunkBytes: CHUNK_BYTES, path: '/v1/chat/completions', ...o });
}

/** The model-server stand-ins: a child process serving idle vLLM metrics and instant answers on `count` ports. */
async function startSink(count: number): Promise<{ ports: number[]; stop: () => Promise<void> }> {
  const child = fork(fileURLToPath(new URL('./upstream-sink.js', import.meta.url)), [String(count)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<number[]>((resolve) =>
    child.on('message', (m: unknown) => {
      if (typeof m === 'object' && m !== null && 'ports' in m) resolve((m as { ports: number[] }).ports);
    }),
  );
  return {
    ports,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('exit');
        setTimeout(() => child.kill('SIGKILL'), 3_000).unref();
      }),
  };
}

/** Prose-like text with newlines, quotes and non-ASCII characters, so JSON escapes and multi-byte UTF-8 occur. */
function documentText(seed: number, bytes: number): string {
  const words = ['the', 'gateway', 'routes', 'requests', 'to', 'model', 'servers', 'café', 'naïve', '缓存', 'prefix', '"quoted"', 'tokens', 'and', 'queues'];
  const parts: string[] = [`Document ${seed}.\n`];
  let length = parts[0]!.length;
  let x = seed * 7919 + 1;
  while (length < bytes) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const w = words[x % words.length]!;
    const piece = x % 17 === 0 ? `${w}.\n` : `${w} `;
    parts.push(piece);
    length += Buffer.byteLength(piece);
  }
  return parts.join('');
}

/** Bodies built before the phases (at most this many bytes of them), so the load client builds nothing while it measures. */
const BODY_POOL_BYTES = 32 * 1024 * 1024;

/**
 * Chat bodies of about `bytes`: a shared document as system prompt, then a question unique to the body. Built up
 * front (JSON.stringify of a 225 KB prompt costs the client a millisecond, which it would spend while requests it
 * is timing wait for it) and handed out in turn: 12 to 64 distinct bodies, every document several times.
 */
function bodyFactory(bytes: number): () => Buffer {
  const docs = Array.from({ length: DOCUMENTS }, (_, i) => documentText(i, Math.max(0, bytes - 200)));
  const count = Math.max(DOCUMENTS, Math.min(64, Math.floor(BODY_POOL_BYTES / Math.max(1, bytes))));
  const pool = Array.from({ length: count }, (_, n) =>
    Buffer.from(
      JSON.stringify({
        model: MODEL,
        messages: [
          { role: 'system', content: docs[n % DOCUMENTS] },
          { role: 'user', content: `Question ${n}: what does the document say about queues?` },
        ],
        max_tokens: 128,
        stream: true,
      }),
    ),
  );
  let n = 0;
  return () => pool[n++ % count] as Buffer;
}

interface Measured {
  readonly load: LoadResult;
  readonly cpuMicrosPerReq: number;
  /** The phase's CPU less the server's idle CPU over the same time (Fairway scrapes its pool when idle too). */
  readonly netCpuMicrosPerReq: number;
  /** Major (mark-compact) collections per 1,000 requests, and all GC pauses per request (ms). */
  readonly majorGcPer1k: number;
  readonly gcPauseMsPerReq: number;
  /** The load client's own event-loop delay over the phase (p99, ms): its stalls show in every latency it times. */
  readonly clientLagP99Ms: number;
}

/** CPU (µs) a server spends per second with no requests: background work such as scraping. */
async function idleCpuPerSecond(server: ServerHandle, ms = 2_000): Promise<number> {
  const cpu0 = await server.cpuMicros();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((await server.cpuMicros()) - cpu0) / ((performance.now() - t0) / 1000);
}

const idleCpu = new Map<ServerHandle, number>();

async function measure(front: Front, server: ServerHandle, run: (c: Loader) => Promise<LoadResult>, loader: LoaderOptions = {}): Promise<Measured> {
  const client = loaderFor(front, server.port, loader);
  try {
    const gc0 = await server.gcStats();
    const cpu0 = await server.cpuMicros();
    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const t0 = performance.now();
    const load = await run(client);
    lag.disable();
    // Progress on stderr (the tables come at the end): a slow or stuck phase shows where it is.
    console.error(`${front} ${server.port}: ${load.completed} requests in ${Math.round(performance.now() - t0)} ms, p99 ${round(load.latencyMs.percentile(99))} ms`);
    const cpu = (await server.cpuMicros()) - cpu0;
    const gc1 = await server.gcStats();
    if (load.errors > 0) throw new Error(`${load.errors} requests failed`);
    const served = Math.max(1, load.completed);
    const background = (idleCpu.get(server) ?? 0) * load.seconds;
    return {
      load,
      cpuMicrosPerReq: cpu / served,
      netCpuMicrosPerReq: Math.max(0, cpu - background) / served,
      majorGcPer1k: ((gc1.major - gc0.major) * 1000) / served,
      gcPauseMsPerReq: (gc1.pauseMs - gc0.pauseMs) / served,
      clientLagP99Ms: lag.percentile(99) / 1e6,
    };
  } finally {
    await client.close();
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** `reps` repetitions per server, alternating which goes first, so drift and neighbours hit both alike. */
async function alternate(
  front: Front,
  servers: Servers,
  reps: number,
  load: (c: Loader) => Promise<LoadResult>,
  loader: LoaderOptions = {},
): Promise<Record<Kind, Measured[]>> {
  const out: Record<Kind, Measured[]> = { bare: [], 'bare-tuned': [], fairway: [], before: [] };
  const kinds = [...servers.keys()];
  for (let r = 0; r < reps; r++) {
    for (const kind of r % 2 === 0 ? kinds : [...kinds].reverse()) out[kind].push(await measure(front, servers.get(kind) as ServerHandle, load, loader));
  }
  return out;
}

type Servers = ReadonlyMap<Kind, ServerHandle>;

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

export interface LongContextOptions {
  readonly sizes?: readonly string[];
  readonly reps?: number;
  readonly phaseMs?: number;
  readonly openLoopRate?: number;
  readonly fronts?: readonly Front[];
  /** Extra Fairway config sections (e.g. a prefix depth) merged over the defaults. */
  readonly fairwayConfig?: Record<string, unknown>;
  /** Node flags for the Fairway child (e.g. --cpu-prof). */
  readonly fairwayExecArgv?: string[];
  /** Repository root of another build (its `dist/`) whose Fairway runs beside this one as `before`. */
  readonly baselineRoot?: string;
  /** Config merged over `fairwayConfig` for a `before` Fairway of this build (without `baselineRoot`: one setting's effect). */
  readonly beforeConfig?: Record<string, unknown>;
  /** The ext_proc load client's HTTP/2 window (0: grpc-js's default). @default 0 */
  readonly clientWindowBytes?: number;
  /** ext_proc: also run the bare server with these HTTP/2 windows (`bare-tuned`). */
  readonly bareWindowBytes?: number;
  /** ext_proc: also a closed loop at this concurrency with 225 KB bodies in one message (BUFFERED). */
  readonly wideConcurrency?: number;
  /** Send `x-request-id` with each request as Envoy does; false: Fairway generates one per request. @default true */
  readonly requestId?: boolean;
}

interface FrontResult {
  readonly rows: Record<string, string | number>[];
  /** Fairway / bare server CPU per request by body size: median of the per-repetition ratios. */
  readonly cpuRatio: Record<string, number>;
  /** The same net of each server's idle CPU (scraping and timers) over the phase. */
  readonly netCpuRatio: Record<string, number>;
  readonly openLoopP99Ms: number;
  /** CPU ms per second with no requests. */
  readonly idleCpuMsPerSec: Partial<Record<Kind, number>>;
  /** With a baseline: the same ratios for the `before` build. */
  readonly before?: { readonly cpuRatio: Record<string, number>; readonly netCpuRatio: Record<string, number>; readonly openLoopP99Ms: number };
}

async function runFront(front: Front, sinkPorts: readonly number[], o: LongContextOptions): Promise<FrontResult> {
  const reps = o.reps ?? 3;
  const phaseMs = o.phaseMs ?? 3_000;
  const sizes = o.sizes ?? ['1k', '64k', '225k', '1m'];
  const rate = o.openLoopRate ?? 100;
  const loader: LoaderOptions = {
    ...(o.clientWindowBytes === undefined ? {} : { windowBytes: o.clientWindowBytes }),
    ...(o.requestId === undefined ? {} : { requestId: o.requestId }),
  };
  const endpoints = sinkPorts.map((port) => ({ host: '127.0.0.1', port }));
  const fairwayArg = JSON.stringify({ endpoints, config: o.fairwayConfig ?? {}, proxy: front === 'proxy' });
  const servers = new Map<Kind, ServerHandle>([
    ['bare', front === 'proxy' ? await startServer('bare-proxy', `127.0.0.1:${sinkPorts[0] ?? 0}`) : await startServer('bare')],
  ]);
  if (front === 'extproc' && o.bareWindowBytes !== undefined) servers.set('bare-tuned', await startServer('bare', String(o.bareWindowBytes)));
  servers.set('fairway', await startServer('fairway', fairwayArg, o.fairwayExecArgv));
  if (o.baselineRoot !== undefined || o.beforeConfig !== undefined) {
    const beforeArg = JSON.stringify({ endpoints, config: mergeDeep(o.fairwayConfig ?? {}, o.beforeConfig ?? {}), proxy: front === 'proxy' });
    const entry = o.baselineRoot === undefined ? undefined : `${o.baselineRoot}/dist/bench/extproc/server-process.js`;
    servers.set('before', await startServer('fairway', beforeArg, o.fairwayExecArgv, entry));
  }
  const kinds = [...servers.keys()];
  const rows: Record<string, string | number>[] = [];
  const ratios = { fairway: { cpu: {} as Record<string, number>, net: {} as Record<string, number>, p99: Number.NaN }, before: { cpu: {} as Record<string, number>, net: {} as Record<string, number>, p99: Number.NaN } };
  const idleCpuMsPerSec: Partial<Record<Kind, number>> = {};
  try {
    // Fairway routes only once it has scraped its pool; then each server's idle CPU, for the net figures.
    await new Promise((r) => setTimeout(r, 500));
    for (const [kind, server] of servers) {
      idleCpu.set(server, await idleCpuPerSecond(server));
      idleCpuMsPerSec[kind] = round((idleCpu.get(server) ?? 0) / 1000);
    }
    for (const size of sizes) {
      const bytes = SIZES[size];
      if (bytes === undefined) throw new Error(`unknown size ${size}`);
      const next = bodyFactory(bytes);
      const concurrency = bytes >= 200_000 ? 8 : 16;
      for (const server of servers.values()) await measure(front, server, (c) => c.closedLoop(next, concurrency, phaseMs / 3), loader);
      const m = await alternate(front, servers, reps, (c) => c.closedLoop(next, concurrency, phaseMs), loader);
      // Per repetition, so each ratio compares phases measured back to back.
      for (const k of ['fairway', 'before'] as const) {
        if (m[k].length === 0) continue;
        ratios[k].cpu[size] = round(median(m[k].map((f, i) => f.cpuMicrosPerReq / (m.bare[i] as Measured).cpuMicrosPerReq)));
        ratios[k].net[size] = round(median(m[k].map((f, i) => f.netCpuMicrosPerReq / (m.bare[i] as Measured).netCpuMicrosPerReq)));
      }
      for (const kind of kinds) rows.push(row(front, `${size} closed loop c=${concurrency}`, kind, next().length, m[kind]));
    }
    if (rate > 0) {
      const big = bodyFactory(SIZES['225k'] as number);
      const open = await alternate(front, servers, reps, (c) => c.openLoop(big, rate, phaseMs), loader);
      for (const kind of kinds) rows.push(row(front, `225k open loop ${rate}/s`, kind, big().length, open[kind]));
      for (const k of ['fairway', 'before'] as const) {
        if (open[k].length > 0) ratios[k].p99 = round(median(open[k].map((x) => x.load.latencyMs.percentile(99))));
      }
    }
    const wide = o.wideConcurrency ?? 0;
    if (front === 'extproc' && wide > 0) {
      const big = bodyFactory(SIZES['225k'] as number);
      const m = await alternate(front, servers, reps, (c) => c.closedLoop(big, wide, phaseMs), { ...loader, bodyMode: 'BUFFERED' });
      for (const kind of kinds) rows.push(row(front, `225k BUFFERED closed loop c=${wide}`, kind, big().length, m[kind]));
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }
  return {
    rows,
    cpuRatio: ratios.fairway.cpu,
    netCpuRatio: ratios.fairway.net,
    openLoopP99Ms: ratios.fairway.p99,
    idleCpuMsPerSec,
    ...(servers.has('before') ? { before: { cpuRatio: ratios.before.cpu, netCpuRatio: ratios.before.net, openLoopP99Ms: ratios.before.p99 } } : {}),
  };
}

function row(front: Front, phase: string, server: Kind, bodyBytes: number, ms: readonly Measured[]): Record<string, string | number> {
  const cpu = median(ms.map((x) => x.cpuMicrosPerReq));
  return {
    front,
    phase,
    server,
    bodyBytes,
    reqPerSec: Math.round(median(ms.map((x) => x.load.reqPerSec))),
    cpuMsPerReq: round(cpu / 1000, 3),
    netCpuMsPerReq: round(median(ms.map((x) => x.netCpuMicrosPerReq)) / 1000, 3),
    reqPerServerCore: Math.round(1e6 / cpu),
    majorGcPer1kReq: round(median(ms.map((x) => x.majorGcPer1k)), 1),
    gcPauseMsPerReq: round(median(ms.map((x) => x.gcPauseMsPerReq)), 3),
    p50Ms: round(median(ms.map((x) => x.load.latencyMs.percentile(50)))),
    p99Ms: round(median(ms.map((x) => x.load.latencyMs.percentile(99)))),
    clientLagP99Ms: round(median(ms.map((x) => x.clientLagP99Ms))),
    sendLateP99Ms: round(median(ms.map((x) => x.load.sendLateMs.percentile(99)))),
  };
}

export async function run(options: LongContextOptions = {}): Promise<object> {
  const sink = await startSink(4);
  const results: Record<string, FrontResult> = {};
  try {
    for (const front of options.fronts ?? (['extproc', 'proxy'] as const)) results[front] = await runFront(front, sink.ports, options);
  } finally {
    await sink.stop();
  }
  const rows = Object.values(results).flatMap((r) => r.rows);
  printTable(rows);
  console.log('');
  for (const [front, r] of Object.entries(results)) {
    console.log(`${front}: CPU per request, Fairway / bare (median of per-repetition ratios): ${JSON.stringify(r.cpuRatio)}`);
    console.log(`${front}:   net of idle CPU (bare ${r.idleCpuMsPerSec.bare} ms/s, Fairway ${r.idleCpuMsPerSec.fairway} ms/s): ${JSON.stringify(r.netCpuRatio)}; open-loop p99 ${r.openLoopP99Ms} ms`);
    if (r.before !== undefined) {
      console.log(`${front}: before (baseline build), CPU per request / bare: ${JSON.stringify(r.before.cpuRatio)}; net of idle CPU (${r.idleCpuMsPerSec.before} ms/s): ${JSON.stringify(r.before.netCpuRatio)}; open-loop p99 ${r.before.openLoopP99Ms} ms`);
    }
  }
  return { rows, results, targets: { cpuRatio: { '1k': 1.2, '225k': 1.0, '1m': 1.0 }, openLoopP99Ms: 20 } };
}

function printTable(rows: Record<string, string | number>[]): void {
  const cols = Object.keys(rows[0] ?? {});
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map((c) => String(r[c])).join(' | ')} |`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const prof = arg('cpu-prof-dir');
  const only = arg('only');
  run({
    ...(only !== undefined ? { fronts: only.split(',') as Front[] } : {}),
    sizes: arg('sizes')?.split(',').filter((s) => s !== ''),
    reps: Number(arg('reps') ?? (quick ? 1 : 3)),
    phaseMs: Number(arg('phase-ms') ?? (quick ? 1_500 : 3_000)),
    ...(arg('open-rate') !== undefined ? { openLoopRate: Number(arg('open-rate')) } : {}),
    ...(arg('baseline-root') !== undefined ? { baselineRoot: arg('baseline-root') } : {}),
    ...(arg('config') !== undefined ? { fairwayConfig: JSON.parse(arg('config') as string) as Record<string, unknown> } : {}),
    ...(arg('before-config') !== undefined ? { beforeConfig: JSON.parse(arg('before-config') as string) as Record<string, unknown> } : {}),
    ...(arg('client-window') !== undefined ? { clientWindowBytes: Number(arg('client-window')) } : {}),
    ...(arg('bare-window') !== undefined ? { bareWindowBytes: Number(arg('bare-window')) } : {}),
    ...(arg('wide') !== undefined ? { wideConcurrency: Number(arg('wide')) } : {}),
    ...(process.argv.includes('--no-request-id') ? { requestId: false } : {}),
    fairwayExecArgv: [...(prof !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...(arg('node-args')?.split(' ').filter((a) => a !== '') ?? [])],
  }).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
