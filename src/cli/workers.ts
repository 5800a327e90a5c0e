// `fairway serve --workers N`: N worker processes (Node's cluster module) serve the same ext_proc, health and
// proxy ports (the primary accepts and hands connections round-robin: Node 20's net has no SO_REUSEPORT), so
// one host uses all its cores. They share state like replicas: through Redis when `sharedState.backend: redis`,
// else through an in-memory hub in the primary. The primary serves /metrics (the workers' metrics merged:
// counters, histograms and additive gauges summed, other gauges kept per worker; see worker-metrics.ts),
// /healthz and /readyz (ready once every worker is), restarts a worker that dies, and on SIGTERM shuts every
// worker down gracefully.
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import { type Registry } from 'prom-client';
import { type Logger } from '../core/index.js';
import { type WorkerMetrics, mergeWorkerMetrics } from '../observability/index.js';
import { newWorkerHub, serveWorker } from '../server/index.js';
import { exitAfterLogs } from './logger.js';

interface ReadyMessage {
  readonly fairwayWorkerReady: true;
}

function isReady(m: unknown): m is ReadyMessage {
  return typeof m === 'object' && m !== null && (m as { fairwayWorkerReady?: unknown }).fairwayWorkerReady === true;
}

/** The primary asks a worker for its metrics; the worker answers with `Registry.getMetricsAsJSON()`. */
interface MetricsRequest {
  readonly fairwayMetricsRequest: number;
}

interface MetricsAnswer {
  readonly fairwayMetricsAnswer: number;
  readonly metrics?: unknown[];
  readonly error?: string;
}

function isMetricsRequest(m: unknown): m is MetricsRequest {
  return typeof m === 'object' && m !== null && typeof (m as { fairwayMetricsRequest?: unknown }).fairwayMetricsRequest === 'number';
}

function isMetricsAnswer(m: unknown): m is MetricsAnswer {
  return typeof m === 'object' && m !== null && typeof (m as { fairwayMetricsAnswer?: unknown }).fairwayMetricsAnswer === 'number';
}

/** A worker that does not answer within this long is left out of the exposition (and the scrape still answers). */
const METRICS_ANSWER_TIMEOUT_MS = 3_000;

export interface PrimaryOptions {
  readonly workers: number;
  readonly host: string;
  readonly metricsPort: number;
  readonly logger: Logger;
  /** Shared state through the primary's hub (no Redis configured). */
  readonly hub: boolean;
}

/** Runs the primary: forks the workers and serves the aggregated metrics and readiness. Resolves once listening. */
export async function runPrimary(o: PrimaryOptions): Promise<{ metricsPort: number; stop(): Promise<void> }> {
  const hub = o.hub ? newWorkerHub() : undefined;
  const ready = new Set<number>();
  let stopping = false;
  let metricsSeq = 0;
  const metricsWaiters = new Map<string, (answer: MetricsAnswer) => void>();
  const fork = (): Worker => {
    const worker = cluster.fork();
    if (hub !== undefined) serveWorker(hub, worker);
    worker.on('message', (m: unknown) => {
      if (isReady(m)) ready.add(worker.id);
      else if (isMetricsAnswer(m)) metricsWaiters.get(`${worker.id}:${m.fairwayMetricsAnswer}`)?.(m);
    });
    worker.on('exit', (code, signal) => {
      ready.delete(worker.id);
      if (stopping) return;
      o.logger.error({ worker: worker.id, code, signal }, 'worker died; starting another');
      fork();
    });
    return worker;
  };
  for (let i = 0; i < o.workers; i++) fork();
  const askMetrics = (worker: Worker): Promise<WorkerMetrics | undefined> =>
    new Promise((resolve) => {
      const key = `${worker.id}:${++metricsSeq}`;
      const timer = setTimeout(() => settle(undefined), METRICS_ANSWER_TIMEOUT_MS);
      const settle = (answer: MetricsAnswer | undefined): void => {
        clearTimeout(timer);
        metricsWaiters.delete(key);
        if (answer?.metrics === undefined) {
          if (answer?.error !== undefined) o.logger.warn({ worker: worker.id, err: answer.error }, 'worker could not collect its metrics');
          resolve(undefined);
        } else {
          resolve({ worker: String(worker.id), metrics: answer.metrics });
        }
      };
      metricsWaiters.set(key, settle);
      if (!worker.isConnected()) return settle(undefined);
      worker.send({ fairwayMetricsRequest: metricsSeq } satisfies MetricsRequest);
    });
  const clusterMetrics = async (): Promise<{ text: string; contentType: string }> => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const answers = await Promise.all(workers.map(askMetrics));
    const registry = mergeWorkerMetrics(answers.filter((a): a is WorkerMetrics => a !== undefined));
    return { text: await registry.metrics(), contentType: registry.contentType };
  };
  const admin = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      clusterMetrics().then(
        ({ text, contentType }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(err instanceof Error ? err.message : String(err));
        },
      );
    } else if (path === '/healthz') {
      res.writeHead(200).end('ok');
    } else if (path === '/readyz') {
      const ok = ready.size >= o.workers;
      res.writeHead(ok ? 200 : 503).end(ok ? 'ready' : `${ready.size}/${o.workers} workers ready`);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => admin.listen(o.metricsPort, o.host, resolve));
  const address = admin.address();
  const metricsPort = typeof address === 'object' && address !== null ? address.port : o.metricsPort;
  return {
    metricsPort,
    stop: async () => {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              w.once('exit', () => resolve());
              // Asked over IPC, not by signal: a terminal's Ctrl-C reaches the whole process group, and a worker
              // told twice would cut its graceful shutdown short.
              if (w.isConnected()) w.send({ fairwayShutdown: true });
              else w.process.kill('SIGTERM');
            }),
        ),
      );
      await new Promise<void>((resolve) => admin.close(() => resolve()));
    },
  };
}

/**
 * In a worker: answers the primary's requests for `registry`'s metrics, shuts down when the primary asks, and
 * leaves SIGTERM/SIGINT to the primary (which forwards the request); then tells the primary it serves.
 */
export function runAsWorker(registry: Registry, logger: Logger, shutdown: () => Promise<void>): void {
  process.on('message', (m: unknown) => {
    if (!isMetricsRequest(m)) return;
    const id = m.fairwayMetricsRequest;
    registry.getMetricsAsJSON().then(
      (metrics) => process.send?.({ fairwayMetricsAnswer: id, metrics } satisfies MetricsAnswer),
      (err: unknown) => process.send?.({ fairwayMetricsAnswer: id, error: err instanceof Error ? err.message : String(err) } satisfies MetricsAnswer),
    );
  });
  const ignore = (): void => {};
  process.on('SIGTERM', ignore);
  process.on('SIGINT', ignore);
  let stopping = false;
  process.on('message', (m: unknown) => {
    if (stopping || typeof m !== 'object' || m === null || (m as { fairwayShutdown?: unknown }).fairwayShutdown !== true) return;
    stopping = true;
    shutdown().then(
      () => exitAfterLogs(0),
      (err: unknown) => {
        logger.error({ err }, 'worker shutdown failed');
        exitAfterLogs(1);
      },
    );
  });
  // The primary gone (killed): nothing will ask this worker to stop, so stop now.
  process.on('disconnect', () => process.exit(0));
  process.send?.({ fairwayWorkerReady: true });
}
