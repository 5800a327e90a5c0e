// The scrape benchmark's metrics-server stand-ins, in a child process so the CPU measured in the bench's own
// process is the scraper's alone: the C ones (metrics-servers.c, compiled here with the system's `cc` once per
// source version) when a compiler is there, else the Node ones (metrics-servers.ts). Either reports its CPU
// time, shown beside the scraper's: on a two-core host the stand-ins take CPU the scraper and the dispatch
// thread would otherwise have. Where they run (`priority`): by default in this process's session at the lowest
// priority (SCHED_IDLE for the C ones, nice 19 for the Node ones), standing for model servers on other machines,
// which take none of the gateway's CPU: they answer on the cycles nothing of ours wants. `group` is the layout
// before 2026-12-07: a session of their own, which Linux's autogroup scheduling weighs as a whole against the
// bench's group, so they compete with it as an equal. There, a perf sched trace showed the dispatch thread
// waking on a core they held and waiting up to a 4 ms tick behind their protected slice (EEVDF, HZ 250),
// whatever the priorities inside either group. Each good one cycles through a few pre-rendered pages whose load
// gauges differ from one answer to the next, as a busy server's do (standInPages), unless asked for the one
// static page.
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestedNames, restrictExposition } from '../../src/simulator/name-filter.js';
import { vllmMetricsPage } from './vllm-metrics-page.js';

export type StandInKind = 'c' | 'node';

export interface StandIns {
  readonly kind: StandInKind;
  /** Good endpoints first, then hung, then closed ones. */
  readonly ports: readonly number[];
  /** Their process id. */
  readonly pid: number;
  /** The stand-ins' CPU time so far (user + system), microseconds. */
  cpuUs(): Promise<number>;
  stop(): void;
}

export interface StandInOptions {
  /**
   * Serve one unchanging page on every answer, as the stand-ins did before 2026-12-07 07:30. Then every line of a
   * page equals the last one's, so the page reader's reuse of unchanged lines hits on all of them: a lower bound
   * of its cost, not what a busy pool's pages cost. @default false
   */
  readonly staticPages?: boolean;
  /**
   * `idle`: in this session at the lowest priority, as servers elsewhere that take none of this host's CPU from
   * the gateway; `group`: a session of their own, competing with the bench's process as an equal group (the
   * layout before 2026-12-07). @default 'idle'
   */
  readonly priority?: StandInPriority;
}

export type StandInPriority = 'idle' | 'group';

/** How many pages a stand-in cycles through by default, one per answer on each connection. */
export const PAGE_VARIANTS = 16;

/**
 * The pages the stand-ins serve, each answer on a connection the next one (cyclically). By default PAGE_VARIANTS
 * pages where, from each page to the next (the last to the first included), `vllm:num_requests_waiting` (0-20),
 * `vllm:num_requests_running` (0-64) and `vllm:kv_cache_usage_perc` (0-1, 1 to 6 decimals) all change, and the
 * e2e latency histogram gains finished requests (its counts fall back once per cycle, as after a restart).
 * Pre-rendered, so a stand-in's CPU per answer stays that of a write. Deterministic (a fixed seed).
 */
export function standInPages(options: StandInOptions = {}): string[] {
  if (options.staticPages === true) return [vllmMetricsPage()];
  let seed = 0x9e3779b9;
  // A 32-bit LCG (Numerical Recipes constants): enough for spreading plausible values, and reproducible.
  const next = (): number => {
    seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
    return seed / 2 ** 32;
  };
  const differing = (previous: number | undefined, first: number | undefined, pick: () => number): number => {
    for (;;) {
      const v = pick();
      if (v !== previous && v !== first) return v;
    }
  };
  const values: { waiting: number; running: number; kv: number }[] = [];
  for (let i = 0; i < PAGE_VARIANTS; i++) {
    const previous = values[i - 1];
    // The last page must also differ from the first, which follows it.
    const first = i === PAGE_VARIANTS - 1 ? values[0] : undefined;
    values.push({
      waiting: differing(previous?.waiting, first?.waiting, () => Math.floor(next() * 21)),
      running: differing(previous?.running, first?.running, () => Math.floor(next() * 65)),
      kv: differing(previous?.kv, first?.kv, () => Number(next().toFixed(1 + Math.floor(next() * 6)))),
    });
  }
  return values.map((v, i) => vllmMetricsPage({ ...v, finished: 3 * i }));
}

/**
 * What a good stand-in answers to a request for `target`, one answer per page (see standInPages): the page,
 * keep-alive, restricted to the samples named by `name[]` query parameters as prometheus_client restricts it
 * (the simulator's filter).
 */
export function metricsAnswers(target = '/metrics', pages: readonly string[] = standInPages()): Buffer[] {
  const names = requestedNames(target);
  return pages.map((page) => {
    const body = Buffer.from(names === undefined ? page : restrictExposition(page, names));
    return Buffer.concat([
      Buffer.from(
        `HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
          'keep-alive: timeout=60\r\n\r\n',
      ),
      body,
    ]);
  });
}

/** The C source beside this module, or (running compiled, from dist/) in the source tree. */
function cSource(): string | undefined {
  for (const rel of ['./metrics-servers.c', '../../../bench/datalayer/metrics-servers.c']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** The Node stand-ins' compiled module: beside this one, or (running from the source tree, as tests do) in dist/. */
function nodeChild(): string {
  for (const rel of ['./metrics-servers.js', '../../dist/bench/datalayer/metrics-servers.js']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('metrics stand-ins: no compiled metrics-servers.js (npm run build)');
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

export async function startStandIns(good: number, hang: number, dead: number, prefer: StandInKind = 'c', options: StandInOptions = {}): Promise<StandIns> {
  const binary = prefer === 'c' ? nativeBinary() : undefined;
  const staticPages = options.staticPages === true;
  const priority = options.priority ?? 'idle';
  return binary === undefined ? startNode(good, hang, dead, staticPages, priority) : startC(binary, good, hang, dead, standInPages({ staticPages }), priority);
}

async function startC(binary: string, good: number, hang: number, dead: number, pages: readonly string[], priority: StandInPriority): Promise<StandIns> {
  // The pages the stand-ins serve, NUL-separated (they build the heads, and the filtered pages, themselves);
  // removed once they have read it.
  const bodyFile = join(tmpdir(), 'fairway-bench-datalayer', `page-${process.pid}-${Date.now()}`);
  writeFileSync(bodyFile, pages.join('\0'));
  const argv = [bodyFile, good, hang, dead].map(String);
  if (priority === 'idle') argv.push('idle');
  const child = spawn(binary, argv, { stdio: ['pipe', 'pipe', 'inherit'], detached: priority === 'group' });
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
    pid: child.pid ?? 0,
    cpuUs: async () => {
      const answer = nextLine();
      child.stdin?.write('cpu\n');
      const [user, system] = (await answer).split(' ').map(Number);
      return (user ?? 0) + (system ?? 0);
    },
    stop: () => stopChild(child),
  };
}

async function startNode(good: number, hang: number, dead: number, staticPages: boolean, priority: StandInPriority): Promise<StandIns> {
  const argv = [good, hang, dead].map(String);
  if (staticPages) argv.push('--static-pages');
  const child = fork(nodeChild(), argv, { stdio: 'inherit', detached: priority === 'group' });
  const ports = await new Promise<number[]>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { ports: number[] }).ports));
    child.once('error', (err) => reject(new Error(`metrics servers: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`metrics servers exited with ${String(code)}`)));
  });
  // Node cannot ask for SCHED_IDLE; nice 19 on each of the child's threads is the nearest (Linux renices one
  // thread per id). Set once it has answered, so its threads exist.
  if (priority === 'idle' && child.pid !== undefined) reniceThreads(child.pid, 19);
  return {
    kind: 'node',
    ports,
    pid: child.pid ?? 0,
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

function reniceThreads(pid: number, nice: number): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return; // not Linux: the stand-ins keep their priority
  }
  for (const tid of tids) {
    try {
      setPriority(Number(tid), nice);
    } catch {
      // a thread that has just ended
    }
  }
}

function stopChild(child: ChildProcess): void {
  child.kill('SIGKILL');
}
