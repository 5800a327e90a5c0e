// Simulator benchmark: (1) the engine alone in virtual time (how much faster than real time one core runs a
// saturated server), (2) simulated servers over HTTP in real time, in a child process so the load generator's
// CPU is not counted: CPU per simulated request and the request rate one process sustains.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { ManualClock, SeededRandom, Summary } from '../../src/core/index.js';
import { CI_PROFILE, H100_8B_PROFILE, SimEngine, type SimProfile } from '../../src/simulator/index.js';

const ENGINE_REQUESTS = 20_000;
/** Real time (time scale 1): 32 ci servers saturate near 32 x 25 = 800 req/s with 512/128 requests. */
const HTTP_REPLICAS = 32;
const HTTP_TIME_SCALE = 1;
const PHASE_MS = 3_000;
const WARMUP_MS = 500;
const PROMPT = 'lorem ipsum dolor sit amet '.repeat(76); // ~2 KB, ~512 tokens
const OUTPUT_TOKENS = 128;

interface EngineFigures {
  readonly profile: string;
  readonly requests: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly ratePerSec: number;
  readonly simulatedSeconds: number;
  readonly wallSeconds: number;
  readonly realTimeFactor: number;
  readonly simulatedRequestsPerCpuSecond: number;
  readonly stepsPerCpuSecond: number;
}

function benchEngine(profile: SimProfile, rate: number, promptTokens: number, outputTokens: number): EngineFigures {
  const clock = new ManualClock();
  const engine = new SimEngine({ profile, clock, random: new SeededRandom(1) });
  let steps = 0;
  engine.observe((e) => {
    if (e.kind === 'step') steps++;
  });
  const gap = 1000 / rate;
  for (let i = 0; i < ENGINE_REQUESTS; i++) {
    clock.setTimeout(() => {
      engine.submit({ promptTokens, outputTokens, maxTokens: outputTokens, blockHashes: [i % 50, i] });
    }, i * gap);
  }
  const start = performance.now();
  clock.runAll(Number.MAX_SAFE_INTEGER);
  const wallSeconds = (performance.now() - start) / 1000;
  const simulatedSeconds = clock.now() / 1000;
  return {
    profile: profile.name,
    requests: ENGINE_REQUESTS,
    promptTokens,
    outputTokens,
    ratePerSec: rate,
    simulatedSeconds: round(simulatedSeconds, 1),
    wallSeconds: round(wallSeconds, 2),
    realTimeFactor: round(simulatedSeconds / wallSeconds, 0),
    simulatedRequestsPerCpuSecond: Math.round(ENGINE_REQUESTS / wallSeconds),
    stepsPerCpuSecond: Math.round(steps / wallSeconds),
  };
}

interface HttpFigures {
  readonly stream: boolean;
  readonly offeredPerSec: number;
  readonly completed: number;
  readonly errors: number;
  /** CPU of the pool process (user + system, all threads) as a share of one core. */
  readonly serverCpuPercent: number;
  readonly cpuMicrosPerRequest: number;
  readonly stepsPerSec: number;
  readonly cpuMicrosPerStep: number;
  readonly meanLatencyMs: number;
  readonly p99LatencyMs: number;
  readonly serverLoopDelayP99Ms: number;
}

interface PoolChild {
  readonly ports: number[];
  /** CPU time (us) and engine steps of the pool process so far. */
  sample(): Promise<{ cpuMicros: number; steps: number; loopDelayP99Ms: number }>;
  stop(): Promise<void>;
}

async function startChild(): Promise<PoolChild> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./pool-process.js', import.meta.url)), [
    JSON.stringify({ replicas: HTTP_REPLICAS, timeScale: HTTP_TIME_SCALE, profile: 'ci' }),
  ]);
  const ports = await new Promise<number[]>((resolve) => {
    child.once('message', (m) => resolve((m as { ports: number[] }).ports));
  });
  return {
    ports,
    sample: () =>
      new Promise((resolve) => {
        child.once('message', (m) => {
          const { cpu, steps, loopDelayP99Ms } = m as { cpu: NodeJS.CpuUsage; steps: number; loopDelayP99Ms: number };
          resolve({ cpuMicros: cpu.user + cpu.system, steps, loopDelayP99Ms });
        });
        child.send('cpu');
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('stop');
      }),
  };
}

/** Open-loop load at `rate` req/s spread round-robin over the servers for `ms`; returns latencies and errors. */
async function drive(pools: Pool[], rate: number, ms: number, stream: boolean): Promise<{ latencies: Summary; errors: number; done: number }> {
  const latencies = new Summary();
  let errors = 0;
  let issued = 0;
  const inflight: Promise<void>[] = [];
  const body = JSON.stringify({ model: 'sim-model', prompt: PROMPT, max_tokens: OUTPUT_TOKENS, ignore_eos: true, stream });
  const start = performance.now();
  while (performance.now() - start < ms) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (; issued < due; issued++) {
      const pool = pools[issued % pools.length] as Pool;
      const t0 = performance.now();
      inflight.push(
        pool
          .request({ path: '/v1/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body })
          .then(async (res) => {
            await res.body.text();
            if (res.statusCode === 200) latencies.add(performance.now() - t0);
            else errors++;
          })
          .catch(() => {
            errors++;
          }),
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inflight);
  return { latencies, errors, done: issued };
}

async function benchHttp(rates: readonly number[], stream: boolean): Promise<HttpFigures[]> {
  const child = await startChild();
  const pools = child.ports.map((p) => new Pool(`http://127.0.0.1:${p}`, { connections: 128, pipelining: 1 }));
  const out: HttpFigures[] = [];
  try {
    await drive(pools, 160, WARMUP_MS, stream);
    for (const rate of rates) {
      const s0 = await child.sample();
      const t0 = performance.now();
      const r = await drive(pools, rate, PHASE_MS, stream);
      const seconds = (performance.now() - t0) / 1000;
      const s1 = await child.sample();
      const cpu = s1.cpuMicros - s0.cpuMicros;
      const steps = s1.steps - s0.steps;
      out.push({
        stream,
        offeredPerSec: rate,
        completed: r.latencies.count,
        errors: r.errors,
        serverCpuPercent: round((cpu / 1e6 / seconds) * 100, 1),
        cpuMicrosPerRequest: r.done === 0 ? 0 : Math.round(cpu / r.done),
        stepsPerSec: Math.round(steps / seconds),
        cpuMicrosPerStep: steps === 0 ? 0 : Math.round(cpu / steps),
        meanLatencyMs: round(r.latencies.mean(), 1),
        p99LatencyMs: round(r.latencies.percentile(99), 1),
        serverLoopDelayP99Ms: round(s1.loopDelayP99Ms, 1),
      });
    }
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await child.stop();
  }
  return out;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function table(rows: readonly object[]): string {
  const first = rows[0];
  if (first === undefined) return '';
  const keys = Object.keys(first);
  const line = (cells: readonly unknown[]): string => `| ${cells.map(String).join(' | ')} |`;
  return [line(keys), line(keys.map(() => '---')), ...rows.map((r) => line(keys.map((k) => (r as Record<string, unknown>)[k])))].join('\n');
}

export async function run(): Promise<object> {
  const engine = [
    benchEngine(CI_PROFILE, 25, 512, 128),
    benchEngine(CI_PROFILE, 15, 1024, 256),
    benchEngine(H100_8B_PROFILE, 60, 1024, 256),
  ];
  console.log('## Simulator engine alone (virtual time, one core)\n');
  console.log(table(engine));
  const http = [...(await benchHttp([0, 160, 320, 640], false)), ...(await benchHttp([160, 320, 640], true))];
  console.log(
    `\n## Simulated servers over HTTP in real time (${HTTP_REPLICAS} ci servers, time scale ${HTTP_TIME_SCALE}, ` +
      `~512-token prompts, ${OUTPUT_TOKENS} output tokens; server process CPU only)\n`,
  );
  console.log(table(http));
  return { engine, http };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await run();
}
