// Scrape worker's garbage (issue 14): bytes the worker thread's V8 isolate allocates per scrape and how often it
// scavenges, at 1,000 endpoints every 50 ms, for this build and another (`--baseline-root`), alternating. Each
// measurement is a child process run with `--trace-gc` (it follows every isolate, the worker's included, which
// heap profiling does not): the worker's bytes allocated in the window are the sum, over its collections, of the
// heap size before one minus the size after the one before it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { argValue as arg } from '../argv.js';
import { median } from '../engine/stats.js';
import { startStandIns } from './stand-ins.js';

const ENDPOINTS = 1_000;
const WARMUP_MS = 2_500;

interface GarbageFigures {
  readonly scrapesPerSec: number;
  readonly bytesPerScrape: number;
  readonly scavengesPerSec: number;
  readonly scavengeMs: number;
}

interface MonitorLike {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Child: scrape with `root`'s data layer on its worker thread, mark the window on stdout, print the scrape count. */
async function child(root: string, windowMs: number): Promise<void> {
  const datalayer = (await import(pathToFileURL(`${root}/dist/src/datalayer/index.js`).href)) as {
    PoolMonitor: new (options: Record<string, unknown>) => MonitorLike;
    StaticEndpointSource: new (specs: { host: string; port: number }[]) => unknown;
  };
  const core = (await import(pathToFileURL(`${root}/dist/src/core/index.js`).href)) as { SystemClock: new () => unknown };
  const servers = await startStandIns(ENDPOINTS, 0, 0, 'c', {});
  let good = 0;
  const monitor = new datalayer.PoolMonitor({
    source: new datalayer.StaticEndpointSource(servers.ports.map((port) => ({ host: '127.0.0.1', port }))),
    clock: new core.SystemClock(),
    scrapeIntervalMs: 50,
    scrapeListener: { markScraped: () => void good++, forget: () => undefined, scrapeFailed: () => undefined },
    observer: { onScrapeFailure: () => undefined, onScrapesSuperseded: (_id: string, count: number) => void (good += count) },
    scrapeThread: 'worker',
    scrapeWorkerNice: 10,
    nameFilter: true,
  });
  try {
    await monitor.start();
    await sleep(WARMUP_MS);
    // A forced collection names this (the main) isolate in the trace: its line ends with the reason `testing`.
    (globalThis as { gc?: () => void }).gc?.();
    const before = good;
    const t0 = performance.now();
    console.log('MARK start');
    await sleep(windowMs);
    console.log('MARK end');
    console.log(`SCRAPES ${good - before} ${Math.round(performance.now() - t0)}`);
  } finally {
    await monitor.close();
    servers.stop();
  }
}

const GC_LINE = /\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: (Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Compact|Mark-sweep)[^\d]*([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+)/;

/** The worker isolate's figures from a child's output. */
export function parseTrace(output: string): GarbageFigures {
  let main: string | undefined;
  let inWindow = false;
  let scrapes = 0;
  let wallMs = 1;
  const lastAfter = new Map<string, number>();
  const allocated = new Map<string, number>();
  const scavenges = new Map<string, { count: number; ms: number }>();
  for (const line of output.split('\n')) {
    if (line.startsWith('MARK start')) inWindow = true;
    else if (line.startsWith('MARK end')) inWindow = false;
    else if (line.startsWith('SCRAPES ')) [scrapes, wallMs] = line.slice(8).split(' ').map(Number) as [number, number];
    const m = GC_LINE.exec(line);
    if (m === null) continue;
    const [, isolate = '', kind = '', before = '0', , after = '0', , ms = '0'] = m;
    if (line.includes('testing')) main = isolate;
    const previous = lastAfter.get(isolate);
    if (inWindow && previous !== undefined) {
      allocated.set(isolate, (allocated.get(isolate) ?? 0) + Number(before) - previous);
      if (kind === 'Scavenge') {
        const s = scavenges.get(isolate) ?? { count: 0, ms: 0 };
        scavenges.set(isolate, { count: s.count + 1, ms: s.ms + Number(ms) });
      }
    }
    lastAfter.set(isolate, Number(after));
  }
  const worker = [...allocated.keys()].find((isolate) => isolate !== main);
  const mb = worker === undefined ? 0 : (allocated.get(worker) ?? 0);
  const s = (worker === undefined ? undefined : scavenges.get(worker)) ?? { count: 0, ms: 0 };
  return {
    scrapesPerSec: Math.round(scrapes / (wallMs / 1000)),
    bytesPerScrape: scrapes > 0 ? Math.round((mb * 1024 * 1024) / scrapes) : Number.NaN,
    scavengesPerSec: Number((s.count / (wallMs / 1000)).toFixed(1)),
    scavengeMs: s.count > 0 ? Number((s.ms / s.count).toFixed(2)) : Number.NaN,
  };
}

function measure(root: string, windowMs: number): GarbageFigures {
  const self = fileURLToPath(import.meta.url);
  const run = spawnSync(process.execPath, ['--trace-gc', '--expose-gc', self, '--child', `--root=${root}`, `--window-ms=${windowMs}`], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`measuring ${root} failed: ${run.stderr}`);
  return parseTrace(run.stdout);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) {
    await child(arg('root') ?? '.', Number(arg('window-ms') ?? 6_000));
    return;
  }
  const thisRoot = fileURLToPath(new URL('../../..', import.meta.url));
  const baseline = arg('baseline-root');
  const rounds = Number(arg('rounds') ?? 3);
  const windowMs = Number(arg('window-ms') ?? 6_000);
  const builds = [...(baseline !== undefined ? [{ name: 'baseline build', root: baseline }] : []), { name: 'this build', root: thisRoot }];
  const runs = new Map<string, GarbageFigures[]>(builds.map((b) => [b.name, []]));
  for (let r = 0; r < rounds; r++) for (const b of builds) runs.get(b.name)?.push(measure(b.root, windowMs));
  console.log(`### Scrape worker's garbage, ${ENDPOINTS} endpoints every 50 ms (medians of ${rounds}, rounds in brackets)\n`);
  console.log('| build | scrapes/s | worker bytes allocated per scrape | worker scavenges/s | ms per scavenge |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, list] of runs) {
    const show = (pick: (f: GarbageFigures) => number): string => `${median(list.map(pick))} (${list.map(pick).join(', ')})`;
    console.log(`| ${name} | ${show((f) => f.scrapesPerSec)} | ${show((f) => f.bytesPerScrape)} | ${show((f) => f.scavengesPerSec)} | ${show((f) => f.scavengeMs)} |`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
