// ext_proc request body modes: what BUFFERED saves Fairway against FULL_DUPLEX_STREAMED. The same server (our
// ExtProcService with the fixed-route handler, so the protocol's cost alone), the same bodies, in one run with the
// two modes alternating: server CPU per request and request-phase latency at 1 KB, 225 KB and 1 MB. Envoy's own
// cost (holding whole bodies in BUFFERED mode) is not measured here.
import { pathToFileURL } from 'node:url';
import { writeResults } from '../results-file.js';
import { type BodyMode, LoadClient } from './load-client.js';
import { type ServerHandle, startServer } from './server-handle.js';

const SIZES = { '1k': 1_024, '225k': 225 * 1024, '1m': 1024 * 1024 } as const;
const MODES: readonly BodyMode[] = ['FULL_DUPLEX_STREAMED', 'BUFFERED'];
const CONCURRENCY = 8;

export interface BodyModesOptions {
  readonly phaseMs?: number;
  readonly rounds?: number;
}

interface Cell {
  readonly size: string;
  readonly mode: BodyMode;
  readonly completed: number;
  /** Median over the rounds. */
  readonly serverCpuUsPerReq: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function body(bytes: number): Buffer {
  const b = Buffer.alloc(bytes, 'a');
  b.write('{"model":"m","prompt":"');
  b.write('"}', bytes - 2);
  return b;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const round = (x: number): number => Math.round(x * 100) / 100;

async function phase(server: ServerHandle, mode: BodyMode, b: Buffer, ms: number): Promise<{ cpuUs: number; completed: number; p50: number; p99: number }> {
  const client = new LoadClient(`127.0.0.1:${server.port}`, { bodyMode: mode });
  try {
    const cpu0 = await server.cpuMicros();
    const load = await client.closedLoop(b, CONCURRENCY, ms);
    const cpu = (await server.cpuMicros()) - cpu0;
    if (load.errors > 0) throw new Error(`${mode}: ${load.errors} failed exchanges`);
    return { cpuUs: cpu / Math.max(1, load.completed), completed: load.completed, p50: load.latencyMs.percentile(50), p99: load.latencyMs.percentile(99) };
  } finally {
    client.close();
  }
}

export async function run(options: BodyModesOptions = {}): Promise<object> {
  const phaseMs = options.phaseMs ?? 2_000;
  const rounds = options.rounds ?? 3;
  const server = await startServer('fixed');
  const cells: Cell[] = [];
  try {
    for (const [size, bytes] of Object.entries(SIZES)) {
      const b = body(bytes);
      for (const mode of MODES) await phase(server, mode, b, phaseMs / 2); // warm-up
      const seen = new Map<BodyMode, { cpu: number[]; p50: number[]; p99: number[]; completed: number }>();
      for (let r = 0; r < rounds; r++) {
        for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) {
          const m = await phase(server, mode, b, phaseMs);
          const s = seen.get(mode) ?? { cpu: [], p50: [], p99: [], completed: 0 };
          s.cpu.push(m.cpuUs);
          s.p50.push(m.p50);
          s.p99.push(m.p99);
          s.completed += m.completed;
          seen.set(mode, s);
        }
      }
      for (const mode of MODES) {
        const s = seen.get(mode);
        if (s === undefined) continue;
        cells.push({ size, mode, completed: s.completed, serverCpuUsPerReq: Math.round(median(s.cpu)), p50Ms: round(median(s.p50)), p99Ms: round(median(s.p99)) });
      }
    }
  } finally {
    await server.stop();
  }
  const result = { concurrency: CONCURRENCY, phaseMs, rounds, node: process.version, cells };
  console.log(`\n### ext_proc body modes (fixed-route handler, closed loop at ${CONCURRENCY}, median of ${rounds} rounds)\n`);
  console.log('| body | mode | server CPU us/req | request phase p50 / p99 ms |');
  console.log('|---|---|---:|---:|');
  for (const c of cells) console.log(`| ${c.size} | ${c.mode} | ${c.serverCpuUsPerReq} | ${c.p50Ms} / ${c.p99Ms} |`);
  writeResults('extproc-body-modes.json', result);
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
