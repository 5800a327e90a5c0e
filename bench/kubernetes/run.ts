// Kubernetes benchmark: a 1,000-pod InferencePool behind the in-process API server (in a child process, so only
// Fairway's side is measured). (1) 1,000 pods appear at once: time until all are endpoints, and how the first
// scrapes spread over the scrape interval (no storm: ideally interval/5 ms buckets of 100 each). (2) 100 pod
// readiness changes per second: CPU per watch event (minus the same window idle) and the time from the API
// server emitting the event to the routing snapshot changing (goal: p99 under 5 ms).
import { type ChildProcess, fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { writeResults } from '../results-file.js';
import { KubeConfig } from '@kubernetes/client-node';
import { percentile } from '../../src/core/index.js';
import { type MetricsFetcherFactory, PoolMonitor } from '../../src/datalayer/index.js';
import { InferencePoolEndpointSource, makeKubeClients } from '../../src/kubernetes/index.js';

const PODS = 1_000;
const RATE = 100;
const SCRAPE_INTERVAL_MS = 50;
const BUCKET_MS = 5;
const PAGE = Buffer.from('vllm:num_requests_waiting 0\nvllm:num_requests_running 0\nvllm:kv_cache_usage_perc 0.1\n');

const now = (): number => performance.timeOrigin + performance.now();

interface Message {
  readonly kind: string;
  readonly url?: string;
  readonly sentAt?: number;
  readonly log?: [string, number][];
}

function nextMessage(child: ChildProcess, kind: string): Promise<Message> {
  return new Promise((resolve) => {
    const on = (raw: unknown): void => {
      const m = raw as Message;
      if (m.kind !== kind) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
  });
}

/** Counts when each scrape starts; never opens a socket (the pod addresses are not reachable, by design). */
function countingFetchers(starts: number[]): MetricsFetcherFactory {
  return () => ({
    start: (sink, done) => {
      starts.push(now());
      sink.push(PAGE);
      queueMicrotask(() => done(undefined));
    },
    abort: () => undefined,
    close: () => Promise.resolve(),
  });
}

function kubeConfig(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'bench', server: url, skipTLSVerify: true }],
    users: [{ name: 'bench', token: 'bench' }],
    contexts: [{ name: 'bench', cluster: 'bench', user: 'bench' }],
    currentContext: 'bench',
  });
  return kc;
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('benchmark condition timed out');
    await new Promise((r) => setTimeout(r, 1));
  }
}

export interface KubernetesFigures {
  readonly pods: number;
  readonly burstToAllEndpointsMs: number;
  readonly firstScrapes: { readonly bucketMs: number; readonly maxPerBucket: number; readonly idealPerBucket: number; readonly scrapesInFirstInterval: number };
  readonly churn: {
    readonly changesPerSec: number;
    readonly events: number;
    readonly cpuUsPerEvent: number;
    readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
    readonly matched: number;
  };
}

export async function run(options: { seconds?: number } = {}): Promise<KubernetesFigures> {
  const seconds = options.seconds ?? 10;
  const child = fork(fileURLToPath(new URL('./api-process.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { url } = await nextMessage(child, 'ready');
  const clients = makeKubeClients(kubeConfig(url as string));
  const source = new InferencePoolEndpointSource({ clients, pool: { name: 'bench', namespace: 'bench', group: 'inference.networking.k8s.io' } });
  await source.start();

  // (1) 1,000 pods at once, scraped every 50 ms.
  const starts: number[] = [];
  const burstMonitor = new PoolMonitor({ source, fetcherFactory: countingFetchers(starts), scrapeIntervalMs: SCRAPE_INTERVAL_MS, staleAfterMs: 200 });
  await burstMonitor.start();
  child.send({ cmd: 'burst', n: PODS });
  const { sentAt } = await nextMessage(child, 'burst-done');
  await waitUntil(() => burstMonitor.pool.current().endpoints.length === PODS, 30_000);
  const allAt = now();
  await new Promise((r) => setTimeout(r, SCRAPE_INTERVAL_MS * 3));
  await burstMonitor.close();
  // Scrape starts per 5 ms over the whole arrival and three intervals after it: a storm is a bucket far above the
  // steady rate (1,000 endpoints every 50 ms = 100 per 5 ms).
  const firstStart = Math.min(...starts);
  const buckets = new Map<number, number>();
  for (const t of starts) {
    const b = Math.floor((t - firstStart) / BUCKET_MS);
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  const inFirst = starts.filter((t) => t < firstStart + SCRAPE_INTERVAL_MS).length;

  // (2) 100 readiness changes per second; scraping slowed to once an hour so only the watch path costs CPU.
  const monitor = new PoolMonitor({ source, fetcherFactory: countingFetchers([]), scrapeIntervalMs: 3_600_000, staleAfterMs: 7_200_000 });
  await monitor.start();
  const changes = new Map<string, number[]>();
  let previous = new Set(monitor.pool.current().endpoints.map((e) => e.host));
  monitor.pool.subscribe((snapshot) => {
    const t = now();
    const current = new Set(snapshot.endpoints.map((e) => e.host));
    for (const ip of current) if (!previous.has(ip)) (changes.get(ip) ?? changes.set(ip, []).get(ip))?.push(t);
    for (const ip of previous) if (!current.has(ip)) (changes.get(ip) ?? changes.set(ip, []).get(ip))?.push(t);
    previous = current;
  });
  const idleCpu = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  const idle = process.cpuUsage(idleCpu);
  const cpu0 = process.cpuUsage();
  child.send({ cmd: 'churn', rate: RATE, seconds });
  const { log } = await nextMessage(child, 'churn-done');
  await new Promise((r) => setTimeout(r, 200));
  const busy = process.cpuUsage(cpu0);
  const events = (log ?? []).length;
  const latencies: number[] = [];
  const seen = new Map<string, number>();
  for (const [ip, t] of log ?? []) {
    const k = seen.get(ip) ?? 0;
    seen.set(ip, k + 1);
    const at = changes.get(ip)?.[k];
    if (at !== undefined) latencies.push(at - t);
  }
  latencies.sort((a, b) => a - b);
  const cpuUs = busy.user + busy.system - (idle.user + idle.system);
  await monitor.close();
  await source.close();
  child.send({ cmd: 'stop' });

  const figures: KubernetesFigures = {
    pods: PODS,
    burstToAllEndpointsMs: round(allAt - (sentAt as number)),
    firstScrapes: { bucketMs: BUCKET_MS, maxPerBucket: Math.max(...buckets.values()), idealPerBucket: (PODS * BUCKET_MS) / SCRAPE_INTERVAL_MS, scrapesInFirstInterval: inFirst },
    churn: {
      changesPerSec: RATE,
      events,
      cpuUsPerEvent: round(cpuUs / Math.max(1, events)),
      latencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies.at(-1) ?? NaN) },
      matched: latencies.length,
    },
  };
  return figures;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const reps = Number(process.argv.find((a) => a.startsWith('--reps='))?.slice(7) ?? '3');
  const all: KubernetesFigures[] = [];
  for (let i = 0; i < reps; i++) {
    const f = await run();
    all.push(f);
    console.log(JSON.stringify(f));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const summary = {
    reps,
    burstToAllEndpointsMs: median(all.map((f) => f.burstToAllEndpointsMs)),
    firstScrapesMaxPer5ms: median(all.map((f) => f.firstScrapes.maxPerBucket)),
    idealPer5ms: all[0]?.firstScrapes.idealPerBucket,
    cpuUsPerEvent: median(all.map((f) => f.churn.cpuUsPerEvent)),
    latencyP50Ms: median(all.map((f) => f.churn.latencyMs.p50)),
    latencyP99Ms: median(all.map((f) => f.churn.latencyMs.p99)),
    latencyMaxMs: median(all.map((f) => f.churn.latencyMs.max)),
  };
  console.log('\nmedians of', reps, 'runs:', JSON.stringify(summary, null, 2));
  writeResults('kubernetes.json', { node: process.version, loadAverage: loadavg(), generatedAt: new Date().toISOString(), runs: all, summary });
}
