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
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestedNames, restrictExposition } from '../../src/simulator/name-filter.js';
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

/**
 * What a good stand-in answers to a request for `target`: a 38.8 KB vLLM v1 page, keep-alive, restricted to the
 * samples named by `name[]` query parameters as prometheus_client restricts it (the simulator's filter).
 */
export function metricsAnswer(target = '/metrics'): Buffer {
  const names = requestedNames(target);
  const page = vllmMetricsPage();
  const body = Buffer.from(names === undefined ? page : restrictExposition(page, names));
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
  // Built under a name of its own and renamed into place: a build cut short (or two runs at once) never leaves a
  // partial binary under the name the next run would take as built.
  const building = `${binary}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('cc', ['-O2', '-o', building, source], { stdio: 'ignore' });
    renameSync(building, binary);
    return binary;
  } catch {
    rmSync(building, { force: true });
    return undefined;
  }
}

export async function startStandIns(good: number, hang: number, dead: number, prefer: StandInKind = 'c'): Promise<StandIns> {
  const binary = prefer === 'c' ? nativeBinary() : undefined;
  return binary === undefined ? startNode(good, hang, dead) : startC(binary, good, hang, dead);
}

async function startC(binary: string, good: number, hang: number, dead: number): Promise<StandIns> {
  // The page the stand-ins serve (they build the head, and the filtered pages, themselves); removed once they
  // have read it.
  const bodyFile = join(tmpdir(), 'fairway-bench-datalayer', `page-${process.pid}-${Date.now()}`);
  writeFileSync(bodyFile, vllmMetricsPage());
  const child = spawn(binary, [bodyFile, good, hang, dead].map(String), { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  const failAll = (err: Error): void => {
    for (const w of waiting.splice(0)) w.reject(err);
  };
  // A binary that cannot be started (or a pipe that breaks) is an error of this run, not an uncaught exception.
  child.once('error', (err) => failAll(new Error(`metrics stand-ins: ${err.message}`)));
  child.stdin?.on('error', () => undefined);
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
  child.once('exit', (code) => failAll(new Error(`metrics stand-ins exited with ${String(code)}`)));
  const nextLine = (): Promise<string> => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  let portLine: string;
  try {
    portLine = await nextLine();
  } catch (err: unknown) {
    stopChild(child);
    throw err;
  } finally {
    rmSync(bodyFile, { force: true });
  }
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
    child.once('error', (err) => reject(new Error(`metrics servers: ${err.message}`)));
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
