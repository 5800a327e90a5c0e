// Data-layer benchmark: Prometheus text parse throughput on a realistic vLLM page, and the CPU cost of
// scraping 100 endpoints every 50 ms (scrapers here, servers in a child process so they are not counted).
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SystemClock } from '../../src/core/index.js';
import {
  VLLM_METRICS,
  extractEndpointMetrics,
  familiesOf,
  parsePrometheusText,
  PoolMonitor,
  StaticEndpointSource,
} from '../../src/datalayer/index.js';
import { vllmMetricsPage } from './vllm-metrics-page.js';

export const DEFAULT_ENDPOINTS = 100;
export const DEFAULT_INTERVAL_MS = 50;
export const DEFAULT_WINDOW_MS = 5_000;
export const DEFAULT_WARMUP_MS = 1_500;
const PARSE_SECONDS = 1.5;

interface ParseFigures {
  readonly mode: string;
  readonly pageBytes: number;
  readonly parsesPerSec: number;
  readonly mbPerSec: number;
  readonly usPerParse: number;
}

function benchParse(mode: 'full' | 'keep-list + extract'): ParseFigures {
  const page = vllmMetricsPage();
  const bytes = Buffer.byteLength(page);
  const keep = familiesOf(VLLM_METRICS);
  const once = (): void => {
    if (mode === 'full') parsePrometheusText(page);
    else extractEndpointMetrics(parsePrometheusText(page, { only: keep }), VLLM_METRICS);
  };
  for (let i = 0; i < 200; i++) once(); // warm-up (JIT)
  let n = 0;
  const start = performance.now();
  const end = start + PARSE_SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) once();
    n += 50;
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    mode,
    pageBytes: bytes,
    parsesPerSec: Math.round(n / seconds),
    mbPerSec: Number(((n * bytes) / seconds / 1e6).toFixed(1)),
    usPerParse: Number(((seconds * 1e6) / n).toFixed(1)),
  };
}

interface ScrapeFigures {
  readonly endpoints: number;
  readonly intervalMs: number;
  readonly windowMs: number;
  readonly pageBytes: number;
  readonly scrapesPerSec: number;
  readonly targetScrapesPerSec: number;
  readonly cpuShareOfOneCore: number;
  readonly cpuUsPerScrape: number;
  readonly staleAtEnd: number;
}

async function startServers(count: number): Promise<{ child: ChildProcess; ports: number[]; pageBytes: number }> {
  const child = fork(fileURLToPath(new URL('./metrics-servers.js', import.meta.url)), [String(count)], { stdio: 'inherit' });
  const info = await new Promise<{ ports: number[]; pageBytes: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { ports: number[]; pageBytes: number }));
    child.once('exit', (code) => reject(new Error(`metrics servers exited with ${String(code)}`)));
  });
  return { child, ...info };
}

async function benchScrape(endpoints: number, intervalMs: number, windowMs: number, warmupMs: number): Promise<ScrapeFigures> {
  const { child, ports, pageBytes } = await startServers(endpoints);
  const monitor = new PoolMonitor({
    source: new StaticEndpointSource(ports.map((port) => ({ host: '127.0.0.1', port }))),
    clock: new SystemClock(),
    scrapeIntervalMs: intervalMs,
  });
  let good = 0;
  const unsubscribe = monitor.pool.subscribe(() => good++);
  try {
    await monitor.start();
    await sleep(warmupMs);
    const goodBefore = good;
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    await sleep(windowMs);
    const cpu = process.cpuUsage(cpuBefore);
    const wall = performance.now() - wallBefore;
    const scrapes = good - goodBefore; // one snapshot per good scrape (plus rare staleness flips)
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return {
      endpoints,
      intervalMs,
      windowMs: Math.round(wall),
      pageBytes,
      scrapesPerSec: Math.round((scrapes / wall) * 1000),
      targetScrapesPerSec: Math.round((endpoints * 1000) / intervalMs),
      cpuShareOfOneCore: Number((cpuMs / wall).toFixed(3)),
      cpuUsPerScrape: Math.round((cpuMs * 1000) / Math.max(1, scrapes)),
      staleAtEnd: monitor.pool.current().endpoints.filter((e) => e.stale).length,
    };
  } finally {
    unsubscribe();
    await monitor.close();
    child.kill();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function run(): Promise<object> {
  const parse = [benchParse('full'), benchParse('keep-list + extract')];
  const scrape = await benchScrape(DEFAULT_ENDPOINTS, DEFAULT_INTERVAL_MS, DEFAULT_WINDOW_MS, DEFAULT_WARMUP_MS);
  console.log('\n### Prometheus text parse (realistic vLLM /metrics page)\n');
  console.log('| mode | page bytes | parses/s | MB/s | us/parse |');
  console.log('|---|---:|---:|---:|---:|');
  for (const p of parse) console.log(`| ${p.mode} | ${p.pageBytes} | ${p.parsesPerSec} | ${p.mbPerSec} | ${p.usPerParse} |`);
  console.log(`\n### Scrape cost: ${scrape.endpoints} endpoints every ${scrape.intervalMs} ms\n`);
  console.log('| scrapes/s (target) | CPU share of one core | CPU us/scrape | stale at end | window ms |');
  console.log('|---:|---:|---:|---:|---:|');
  console.log(
    `| ${scrape.scrapesPerSec} (${scrape.targetScrapesPerSec}) | ${(scrape.cpuShareOfOneCore * 100).toFixed(1)}% | ${scrape.cpuUsPerScrape} | ${scrape.staleAtEnd} | ${scrape.windowMs} |`,
  );
  return { parse, scrape };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run()
    .then((result) => console.log(`\n${JSON.stringify(result)}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
