// The scrape benchmark's metrics-server stand-ins, in a child process so the CPU measured in the bench's own
// process is the scraper's alone: the C ones (metrics-servers.c, compiled here with the system's `cc` once per
// source version) when a compiler is there, else the Node ones (metrics-servers.ts). Either reports its CPU
// time, shown beside the scraper's: on a two-core host the stand-ins take CPU the scraper and the dispatch
// thread would otherwise have. They run in a session of their own (`detached`): with Linux's autogroup
// scheduling, the bench process and they then share the CPU as two groups, as two machines' loads would not
// meet at all, rather than the stand-ins competing thread by thread inside the scraper's group (where the
// scrape worker's lowered priority would make it yield to them).
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vllmMetricsPage } from './vllm-metrics-page.js';

export type StandInKind = 'c' | 'node';

export interface StandIns {
  readonly kind: StandInKind;
  /** Good endpoints first, then hung, then closed ones. */
  readonly ports: readonly number[];
  /** The stand-ins' CPU time so far (user + system), microseconds. */
  cpuUs(): Promise<number>;
  stop(): void;
}

/** The one answer every good stand-in sends: a 38.8 KB vLLM v1 page, keep-alive. */
export function metricsAnswer(): Buffer {
  const body = Buffer.from(vllmMetricsPage());
  return Buffer.concat([
    Buffer.from(
      `HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
        'keep-alive: timeout=60\r\n\r\n',
    ),
    body,
  ]);
}

/** The C source beside this module, or (running compiled, from dist/) in the source tree. */
function cSource(): string | undefined {
  for (const rel of ['./metrics-servers.c', '../../../bench/datalayer/metrics-servers.c']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** Compiles the C stand-ins (cached by source hash); undefined when there is no source or no compiler. */
function nativeBinary(): string | undefined {
  const source = cSource();
  if (source === undefined || process.platform !== 'linux') return undefined;
  const text = readFileSync(source);
  const dir = join(tmpdir(), 'fairway-bench-datalayer');
  const binary = join(dir, `metrics-servers-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`);
  if (existsSync(binary)) return binary;
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('cc', ['-O2', '-o', binary, source], { stdio: 'ignore' });
    return binary;
  } catch {
    return undefined;
  }
}

export async function startStandIns(good: number, hang: number, dead: number, prefer: StandInKind = 'c'): Promise<StandIns> {
  const binary = prefer === 'c' ? nativeBinary() : undefined;
  return binary === undefined ? startNode(good, hang, dead) : startC(binary, good, hang, dead);
}

async function startC(binary: string, good: number, hang: number, dead: number): Promise<StandIns> {
  const answerFile = join(tmpdir(), 'fairway-bench-datalayer', `answer-${process.pid}`);
  writeFileSync(answerFile, metricsAnswer());
  const child = spawn(binary, [answerFile, good, hang, dead].map(String), { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (text: string) => {
    buffered += text;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiting.shift()?.resolve(line);
    }
  });
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`metrics stand-ins exited with ${String(code)}`));
  });
  const nextLine = (): Promise<string> => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  const portLine = await nextLine();
  const ports = portLine.trim() === '' ? [] : portLine.trim().split(' ').map(Number);
  return {
    kind: 'c',
    ports,
    cpuUs: async () => {
      const answer = nextLine();
      child.stdin?.write('cpu\n');
      const [user, system] = (await answer).split(' ').map(Number);
      return (user ?? 0) + (system ?? 0);
    },
    stop: () => stopChild(child),
  };
}

async function startNode(good: number, hang: number, dead: number): Promise<StandIns> {
  const child = fork(fileURLToPath(new URL('./metrics-servers.js', import.meta.url)), [good, hang, dead].map(String), { stdio: 'inherit', detached: true });
  const ports = await new Promise<number[]>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { ports: number[] }).ports));
    child.once('exit', (code) => reject(new Error(`metrics servers exited with ${String(code)}`)));
  });
  return {
    kind: 'node',
    ports,
    cpuUs: () =>
      new Promise((resolve) => {
        child.once('message', (m) => {
          const cpu = (m as { cpu: NodeJS.CpuUsage }).cpu;
          resolve(cpu.user + cpu.system);
        });
        child.send('cpu');
      }),
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): void {
  child.kill('SIGKILL');
}
