// Wall-clock companion of the replicas scenario: what shared state costs on the request path and what
// `--workers 2` buys on this machine. Real processes on loopback: `fairway sim` (4 servers), a redis-server on a
// free port, `fairway serve` children, and the ext_proc load client of bench/extproc.
//   1. Added ext_proc latency, shared (Redis, with a second replica as peer) vs local, open loop at a fixed rate.
//   2. ext_proc throughput of `serve --workers 2` vs `--workers 1`, closed loop.
// Alternating rounds in one run; medians. Run under the benchmark lock: flock /work/helpers/bench.lock ...
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createServer } from 'node:net';
import { LoadClient } from '../extproc/load-client.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BODY = Buffer.from(JSON.stringify({ model: 'sim-model', prompt: 'Say hello in one short sentence.', max_tokens: 16 }));
const ROUNDS = 3;
const PHASE_MS = 3_000;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const children: ChildProcess[] = [];
function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function waitServing(port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  const client = new LoadClient(`127.0.0.1:${port}`, { channels: 1 });
  try {
    for (;;) {
      try {
        await client.exchange(BODY);
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`ext_proc on ${port} not serving`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    client.close();
  }
}

async function serve(endpoints: number[], extra: string, args: string[] = []): Promise<{ grpc: number; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'fairway-bench-'));
  const grpc = await freePort();
  const config = join(dir, 'fairway.yaml');
  writeFileSync(
    config,
    [
      'pool:',
      '  endpoints:',
      ...endpoints.map((p) => `    - { host: 127.0.0.1, port: ${p} }`),
      `server: { host: 127.0.0.1, grpcPort: ${grpc}, healthPort: ${await freePort()}, metricsPort: ${await freePort()} }`,
      'logging: { level: warn }',
      extra,
    ].join('\n'),
  );
  const child = start(process.execPath, [CLI, 'serve', '--config', config, ...args]);
  await waitServing(grpc);
  return { grpc, child };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export async function run(): Promise<object> {
  const simPort = await freePort();
  start(process.execPath, [CLI, 'sim', '--port', String(simPort), '--replicas', '4', '--profile', 'ci']);
  const endpoints = [0, 1, 2, 3].map((i) => simPort + i);
  const redisPort = await freePort();
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await new Promise((r) => setTimeout(r, 1_000));
  const shared = (id: string): string => `sharedState: { backend: redis, url: "redis://127.0.0.1:${redisPort}", keyPrefix: "{bench}:", replicaId: ${id} }`;
  try {
    // 1. latency, shared vs local, at a rate well below saturation.
    const local = await serve(endpoints, '');
    const sharedA = await serve(endpoints, shared('a'));
    await serve(endpoints, shared('b')); // the peer: syncs, scrapes or not, takes no load
    const rate = 50;
    const lat: Record<'local' | 'shared', { p50: number[]; p99: number[] }> = { local: { p50: [], p99: [] }, shared: { p50: [], p99: [] } };
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, s] of (r % 2 === 0 ? [['local', local], ['shared', sharedA]] : [['shared', sharedA], ['local', local]]) as [
        'local' | 'shared',
        { grpc: number },
      ][]) {
        const c = new LoadClient(`127.0.0.1:${s.grpc}`);
        const res = await c.openLoop(BODY, rate, PHASE_MS);
        c.close();
        lat[name].p50.push(res.latencyMs.percentile(50));
        lat[name].p99.push(res.latencyMs.percentile(99));
      }
    }
    const latency = {
      rate,
      local: { p50: r3(median(lat.local.p50)), p99: r3(median(lat.local.p99)), runs: lat.local },
      shared: { p50: r3(median(lat.shared.p50)), p99: r3(median(lat.shared.p99)), runs: lat.shared },
      addedP50Ms: r3(median(lat.shared.p50) - median(lat.local.p50)),
      addedP99Ms: r3(median(lat.shared.p99) - median(lat.local.p99)),
      pairedAddedP99Ms: lat.shared.p99.map((v, i) => r3(v - (lat.local.p99[i] ?? Number.NaN))),
    };
    for (const c of children.splice(2)) c.kill('SIGKILL');
    // 2. throughput, --workers 2 vs 1 (each alone on the machine, alternating).
    const tput: Record<string, number[]> = { '1': [], '2': [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const w of r % 2 === 0 ? ['1', '2'] : ['2', '1']) {
        const s = await serve(endpoints, '', ['--workers', w]);
        const c = new LoadClient(`127.0.0.1:${s.grpc}`, { channels: 8 });
        await c.closedLoop(BODY, 64, 1_000);
        const res = await c.closedLoop(BODY, 64, PHASE_MS);
        c.close();
        tput[w]?.push(Math.round(res.reqPerSec));
        s.child.kill('SIGTERM');
        await new Promise((resolve) => s.child.once('exit', resolve));
      }
    }
    const throughput = { workers1: median(tput['1'] ?? []), workers2: median(tput['2'] ?? []), runs: tput };
    const out = { machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version }, latency, throughput, ratio: r3(throughput.workers2 / throughput.workers1) };
    console.log(JSON.stringify(out, null, 2));
    return out;
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
  process.exit(0);
}
