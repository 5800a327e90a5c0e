// Status view benchmark (issue 15): what the operator's view costs the dispatch path. The real FlowController
// behind a concurrency limit (a backlog, so requests queue, flows live and every observer event fires) at 10k and
// 100k tenants, observed as production wires it, in three interleaved variants:
//   metrics         FairwayMetrics alone (the server before the status view)
//   +status         FairwayMetrics and the StatusRecorder, its service sampling once a second, nobody watching
//   +status, N SSE  the same with the admin HTTP server up and N status pages (SSE clients in a child process)
//                   receiving ~4 snapshots a second, each built and serialized in the engine's process
// Reports median dispatches/s per variant, the paired ratios to `metrics`, and the snapshot's build time and size
// at the same scale. Run: node --expose-gc dist/bench/status/run.js [--quick]; under the bench lock.
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeResults } from '../results-file.js';
import { Registry } from 'prom-client';
import { validateConfig } from '../../src/config/index.js';
import { ObserverFaults, noopLogger } from '../../src/core/index.js';
import { FlowController, type FlowControlObserver, type FlowRequest, fanOutFlowControlObserver } from '../../src/flowcontrol/index.js';
import { FairwayMetrics } from '../../src/observability/index.js';
import { AdminHttpServer } from '../../src/server/admin-http-server.js';
import { loadStatusAssets } from '../../src/server/status-assets.js';
import { StatusHttp } from '../../src/server/status-http.js';
import { StatusRecorder, StatusService, summarizeConfig } from '../../src/status/index.js';
import { closedLoopCallbacks } from '../engine/closed-loop.js';
import { engineCallbackCallers } from '../engine/engine.js';
import { makeRequests } from '../engine/requests.js';
import { ConcurrencyLimitSaturation } from '../engine/saturation.js';
import { forceGc, median } from '../engine/stats.js';

type Variant = 'metrics' | 'status' | 'sse';

interface Plan {
  readonly quick: boolean;
  readonly repetitions: number;
  readonly requests: number;
  readonly tenants: readonly number[];
  readonly callers: number;
  readonly limit: number;
  readonly sseClients: number;
}

function planFor(quick: boolean): Plan {
  return { quick, repetitions: quick ? 3 : 7, requests: quick ? 300_000 : 600_000, tenants: [10_000, 100_000], callers: 5_000, limit: 100, sseClients: 4 };
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** One wired engine: the controller with its observers, and (for +status) the status service over it. */
interface Wired {
  readonly fc: FlowController;
  readonly recorder: StatusRecorder | undefined;
  readonly service: StatusService | undefined;
}

function wire(variant: Variant, limit: ConcurrencyLimitSaturation): Wired {
  const metrics = new FairwayMetrics(new Registry());
  const recorder = variant === 'metrics' ? undefined : new StatusRecorder();
  const observer: FlowControlObserver = recorder === undefined ? metrics : fanOutFlowControlObserver({ metrics, status: recorder }, new ObserverFaults(noopLogger));
  const fc = new FlowController({ saturation: limit, observer, bands: [{ priority: 0 }], bandTemplate: { maxRequests: Infinity, maxBytes: Infinity }, maxFlows: 1_000_000 });
  metrics.bindFlowControl(() => fc.stats());
  if (recorder === undefined) return { fc, recorder, service: undefined };
  const config = summarizeConfig(validateConfig({}), { detectorSettings: {}, schedulerProfile: undefined, tenantNames: 'plain' });
  const service = new StatusService({
    sources: {
      flowControl: fc,
      saturation: { name: 'concurrency', details: () => ({ saturation: limit.saturation(), staleEndpoints: 0, endpoints: new Map() }), settings: () => ({ limit: limit.limit }) },
      pool: { current: () => ({ endpoints: [] }) },
      inflight: { load: () => ({ requests: 0 }) },
    },
    recorder,
    config: () => config,
    version: 'bench',
  });
  service.start();
  return { fc, recorder, service };
}

async function startViewers(service: StatusService, clients: number): Promise<{ stop: () => Promise<{ events: number; bytes: number }>; admin: AdminHttpServer }> {
  const admin = new AdminHttpServer({ registry: new Registry(), ready: () => true, logger: noopLogger, status: new StatusHttp({ service, assets: await loadStatusAssets(), logger: noopLogger }) });
  const port = await admin.start('127.0.0.1', 0);
  const child: ChildProcess = spawn(process.execPath, [path.join(here, 'sse-clients.js'), `http://127.0.0.1:${port}/status/events`, String(clients)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.setEncoding('utf8');
  await new Promise<void>((resolve) => child.stdout?.on('data', (d: string) => ((out += d), out.includes('ready') && resolve())));
  // Let every stream get its first snapshot before measuring.
  while (service.subscribers < clients) await new Promise((r) => setTimeout(r, 20));
  return {
    admin,
    stop: async () => {
      const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      child.kill('SIGTERM');
      await done;
      await admin.close();
      const line = out.split('\n').find((l) => l.startsWith('{')) ?? '{}';
      const r = JSON.parse(line) as { events?: number; bytes?: number };
      return { events: r.events ?? 0, bytes: r.bytes ?? 0 };
    },
  };
}

async function pass(variant: Variant, requests: readonly FlowRequest[], plan: Plan): Promise<{ perSec: number; events: number; bytes: number }> {
  forceGc();
  const limit = new ConcurrencyLimitSaturation(plan.limit);
  const { fc, service } = wire(variant, limit);
  const viewers = variant === 'sse' && service !== undefined ? await startViewers(service, plan.sseClients) : undefined;
  const figures = await closedLoopCallbacks(requests, plan.callers, engineCallbackCallers(fc, limit));
  const seen = (await viewers?.stop()) ?? { events: 0, bytes: 0 };
  service?.close();
  await fc.close();
  return { perSec: figures.perSec, ...seen };
}

/** Snapshot build time and size with `tenants` active tenants and as many flows queued, in the status variant. */
async function snapshotCost(tenants: number): Promise<{ buildUs: number; bytes: number; activeTenants: number; queuedFlows: number }> {
  const limit = new ConcurrencyLimitSaturation(1);
  const { fc, recorder, service } = wire('status', limit);
  if (service === undefined || recorder === undefined) throw new Error('the status variant has a status service');
  limit.begin(); // saturated: everything queues
  const requests = makeRequests(tenants * 2, { flows: tenants, bands: 4 }, 7);
  for (const r of requests) fc.enqueue(r, () => {});
  // Every tenant has also been served (released leases reach the ledger through the recorder).
  for (let i = 0; i < tenants; i++) recorder.onRelease(0, `tenant-${i}`, 100 + (i % 900), undefined);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const json = service.json();
    times.push((performance.now() - t0) * 1000);
    bytes = json?.length ?? 0;
    await new Promise((r) => setTimeout(r, 110)); // past the 100 ms coalescing
  }
  const snapshot = service.snapshot();
  const out = { buildUs: median(times), bytes, activeTenants: snapshot.tenants.active, queuedFlows: fc.stats().liveFlows };
  service.close();
  await fc.close();
  return out;
}

export async function run(options: { quick?: boolean } = {}): Promise<object> {
  const plan = planFor(options.quick === true);
  const keepAlive = setInterval(() => {}, 1_000);
  try {
    console.log(`status bench${plan.quick ? ' (--quick)' : ''}: ${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cores, Node ${process.version}`);
    const variants: Variant[] = ['metrics', 'status', 'sse'];
    const results = [];
    for (const tenants of plan.tenants) {
      const requests = makeRequests(plan.requests, { flows: tenants, bands: 1 }, 42);
      await pass('metrics', requests, plan); // warm-up
      const runs: Record<Variant, number[]> = { metrics: [], status: [], sse: [] };
      let events = 0;
      let bytes = 0;
      for (let rep = 0; rep < plan.repetitions; rep++) {
        // Interleaved, rotating the order, so drift on a shared machine hits every variant alike.
        const order = variants.map((_, i) => variants[(i + rep) % variants.length] as Variant);
        for (const v of order) {
          const r = await pass(v, requests, plan);
          runs[v].push(r.perSec);
          if (v === 'sse') {
            events += r.events;
            bytes += r.bytes;
          }
        }
      }
      const paired = (v: Variant): number => median(runs[v].map((x, i) => x / (runs.metrics[i] ?? Number.NaN)));
      const row = {
        tenants,
        perSec: { metrics: median(runs.metrics), status: median(runs.status), sse: median(runs.sse) },
        ratioToMetrics: { status: paired('status'), sse: paired('sse') },
        runs,
        sse: { clients: plan.sseClients, eventsReceived: events, bytesReceived: bytes },
      };
      results.push(row);
      console.log(
        `${tenants} tenants: metrics ${Math.round(row.perSec.metrics)}/s, +status ${Math.round(row.perSec.status)}/s (x${row.ratioToMetrics.status.toFixed(3)}), ` +
          `+status with ${plan.sseClients} SSE pages ${Math.round(row.perSec.sse)}/s (x${row.ratioToMetrics.sse.toFixed(3)}); ${events} snapshots received`,
      );
    }
    const snapshots = [];
    for (const tenants of plan.tenants) {
      const s = await snapshotCost(tenants);
      snapshots.push({ tenants, ...s });
      console.log(`snapshot with ${s.activeTenants} active tenants, ${s.queuedFlows} queued flows: ${Math.round(s.buildUs)} us to build and serialize, ${s.bytes} bytes`);
    }
    const json = { benchmark: 'status', date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadAverage: os.loadavg(), plan, results, snapshots };
    const file = writeResults('status.json', json);
    console.log(`wrote ${file}`);
    return json;
  } finally {
    clearInterval(keepAlive);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run({ quick: process.argv.includes('--quick') }).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
