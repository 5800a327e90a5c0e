// Long-context benchmark (issue 19): the whole Fairway server (pipeline, flow control, scheduler, prefix index,
// scraping 4 simulated pods) against the bare protocol-only ext_proc server, both in child processes, driven by
// one load client in the same run. Per body size: server CPU per request and throughput (closed loop), medians
// of several alternating repetitions; then routing latency at an open-loop rate of 225 KB bodies.
//   node dist/bench/extproc/long-context.js [--quick] [--sizes=1k,64k,225k,1m] [--reps=3]
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type SimulatedPool, startSimulatedPool } from '../../src/simulator/index.js';
import { LoadClient, type LoadResult } from './load-client.js';

const MODEL = 'bench-model';
/** Envoy streams a large body in pieces; 64 KiB as in the measurement. */
const CHUNK_BYTES = 65_536;
/** Distinct documents the prompts start with: shared prefixes, and enough of them to make the index evict. */
const DOCUMENTS = 12;
const SIZES: Record<string, number> = { '1k': 1_000, '64k': 64_000, '225k': 225_000, '1m': 1_000_000 };

type Kind = 'bare' | 'fairway';
const KINDS: readonly Kind[] = ['bare', 'fairway'];

interface ServerHandle {
  readonly port: number;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(kind: string, arg?: string, execArgv: string[] = []): Promise<ServerHandle> {
  const entry = fileURLToPath(new URL('./server-process.js', import.meta.url));
  const child: ChildProcess = fork(entry, arg === undefined ? [kind] : [kind, arg], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  const ask = <T>(msg: string, key: string): Promise<T> =>
    new Promise((resolve) => {
      const on = (m: unknown): void => {
        if (typeof m === 'object' && m !== null && key in m) {
          child.off('message', on);
          resolve((m as Record<string, T>)[key] as T);
        }
      };
      child.on('message', on);
      if (msg !== '') child.send(msg);
    });
  const port = await ask<number>('', 'port');
  return {
    port,
    cpuMicros: () => ask<number>('cpu', 'cpuMicros'),
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

/** Chat bodies of about `bytes`: a shared document as system prompt, then a question unique to the request. */
function bodyFactory(bytes: number): () => Buffer {
  const docs = Array.from({ length: DOCUMENTS }, (_, i) => documentText(i, Math.max(0, bytes - 200)));
  let n = 0;
  return () => {
    n++;
    return Buffer.from(
      JSON.stringify({
        model: MODEL,
        messages: [
          { role: 'system', content: docs[n % DOCUMENTS] },
          { role: 'user', content: `Question ${n}: what does the document say about queues?` },
        ],
        max_tokens: 128,
        stream: true,
      }),
    );
  };
}

interface Measured {
  readonly load: LoadResult;
  readonly cpuMicrosPerReq: number;
}

async function measure(server: ServerHandle, run: (c: LoadClient) => Promise<LoadResult>): Promise<Measured> {
  const client = new LoadClient(`127.0.0.1:${server.port}`, { chunkBytes: CHUNK_BYTES, path: '/v1/chat/completions' });
  try {
    const cpu0 = await server.cpuMicros();
    const load = await run(client);
    const cpu = (await server.cpuMicros()) - cpu0;
    if (load.errors > 0) throw new Error(`${load.errors} requests failed`);
    return { load, cpuMicrosPerReq: cpu / Math.max(1, load.completed) };
  } finally {
    client.close();
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** `reps` repetitions per server, alternating which goes first, so drift and neighbours hit both alike. */
async function alternate(
  servers: Record<Kind, ServerHandle>,
  reps: number,
  load: (c: LoadClient) => Promise<LoadResult>,
): Promise<Record<Kind, Measured[]>> {
  const out: Record<Kind, Measured[]> = { bare: [], fairway: [] };
  for (let r = 0; r < reps; r++) {
    for (const kind of r % 2 === 0 ? KINDS : [...KINDS].reverse()) out[kind].push(await measure(servers[kind], load));
  }
  return out;
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

export interface LongContextOptions {
  readonly sizes?: readonly string[];
  readonly reps?: number;
  readonly phaseMs?: number;
  readonly openLoopRate?: number;
  /** Extra Fairway config sections (e.g. a prefix depth) merged over the defaults. */
  readonly fairwayConfig?: Record<string, unknown>;
  /** Node flags for the Fairway child (e.g. --cpu-prof). */
  readonly fairwayExecArgv?: string[];
}

export async function run(options: LongContextOptions = {}): Promise<object> {
  const reps = options.reps ?? 3;
  const phaseMs = options.phaseMs ?? 3_000;
  const sizes = options.sizes ?? ['1k', '64k', '225k', '1m'];
  const rate = options.openLoopRate ?? 100;
  const pool: SimulatedPool = await startSimulatedPool({ replicas: 4, profile: 'h100-8b', model: MODEL, host: '127.0.0.1' });
  const endpoints = pool.servers.map((s) => ({ host: s.host, port: s.port }));
  const servers: Record<Kind, ServerHandle> = {
    bare: await startServer('bare'),
    fairway: await startServer('fairway', JSON.stringify({ endpoints, config: options.fairwayConfig ?? {} }), options.fairwayExecArgv),
  };
  const rows: Record<string, string | number>[] = [];
  const ratios: Record<string, number> = {};
  try {
    // Fairway routes only once it has scraped its pool.
    await new Promise((r) => setTimeout(r, 500));
    for (const size of sizes) {
      const bytes = SIZES[size];
      if (bytes === undefined) throw new Error(`unknown size ${size}`);
      const next = bodyFactory(bytes);
      const concurrency = bytes >= 200_000 ? 8 : 16;
      for (const kind of KINDS) await measure(servers[kind], (c) => c.closedLoop(next, concurrency, phaseMs / 3));
      const m = await alternate(servers, reps, (c) => c.closedLoop(next, concurrency, phaseMs));
      const cpu = { bare: median(m.bare.map((x) => x.cpuMicrosPerReq)), fairway: median(m.fairway.map((x) => x.cpuMicrosPerReq)) };
      // Per repetition, so each ratio compares two phases measured back to back.
      const ratio = median(m.fairway.map((f, i) => f.cpuMicrosPerReq / (m.bare[i] as Measured).cpuMicrosPerReq));
      ratios[size] = round(ratio);
      for (const kind of KINDS) {
        rows.push({
          phase: `${size} closed loop c=${concurrency}`,
          server: kind,
          bodyBytes: next().length,
          reqPerSec: Math.round(median(m[kind].map((x) => x.load.reqPerSec))),
          cpuMsPerReq: round(cpu[kind] / 1000, 3),
          reqPerServerCore: Math.round(1e6 / cpu[kind]),
          p50Ms: round(median(m[kind].map((x) => x.load.latencyMs.percentile(50)))),
          p99Ms: round(median(m[kind].map((x) => x.load.latencyMs.percentile(99)))),
        });
      }
    }
    const big = bodyFactory(SIZES['225k'] as number);
    const open = await alternate(servers, reps, (c) => c.openLoop(big, rate, phaseMs));
    for (const kind of KINDS) {
      rows.push({
        phase: `225k open loop ${rate}/s`,
        server: kind,
        bodyBytes: big().length,
        reqPerSec: Math.round(median(open[kind].map((x) => x.load.reqPerSec))),
        cpuMsPerReq: round(median(open[kind].map((x) => x.cpuMicrosPerReq)) / 1000, 3),
        reqPerServerCore: Math.round(1e6 / median(open[kind].map((x) => x.cpuMicrosPerReq))),
        p50Ms: round(median(open[kind].map((x) => x.load.latencyMs.percentile(50)))),
        p99Ms: round(median(open[kind].map((x) => x.load.latencyMs.percentile(99)))),
      });
    }
  } finally {
    await Promise.all([servers.bare.stop(), servers.fairway.stop()]);
    await pool.close();
  }
  const result = { rows, cpuRatioFairwayOverBare: ratios, targets: { '1k': 1.2, '225k': 1.0, '1m': 1.0, openLoopP99Ms: 20 } };
  printTable(rows);
  console.log('');
  console.log(`CPU per request, Fairway / bare (median of per-repetition ratios): ${JSON.stringify(ratios)}`);
  return result;
}

function printTable(rows: Record<string, string | number>[]): void {
  const cols = Object.keys(rows[0] ?? {});
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`|${cols.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${cols.map((c) => String(r[c])).join(' | ')} |`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = process.argv.includes('--quick');
  const prof = arg('cpu-prof-dir');
  run({
    sizes: arg('sizes')?.split(','),
    reps: Number(arg('reps') ?? (quick ? 1 : 3)),
    phaseMs: Number(arg('phase-ms') ?? (quick ? 1_500 : 3_000)),
    ...(arg('config') !== undefined ? { fairwayConfig: JSON.parse(arg('config') as string) as Record<string, unknown> } : {}),
    ...(prof !== undefined ? { fairwayExecArgv: ['--cpu-prof', `--cpu-prof-dir=${prof}`] } : {}),
  }).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
