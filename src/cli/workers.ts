// `fairway serve --workers N`: N worker processes (Node's cluster module) serve the same ext_proc, health and
// proxy ports (the primary accepts and hands connections round-robin: Node 20's net has no SO_REUSEPORT), so
// one host uses all its cores. They share state like replicas: through Redis when `sharedState.backend: redis`,
// else through an in-memory hub in the primary. The primary serves /metrics (the workers' metrics summed by
// prom-client's AggregatorRegistry), /healthz and /readyz (ready once every worker is), restarts a worker that
// dies, and on SIGTERM shuts every worker down gracefully.
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { type Logger } from '../core/index.js';
import { newWorkerHub, serveWorker } from '../server/index.js';

interface ReadyMessage {
  readonly fairwayWorkerReady: true;
}

function isReady(m: unknown): m is ReadyMessage {
  return typeof m === 'object' && m !== null && (m as { fairwayWorkerReady?: unknown }).fairwayWorkerReady === true;
}

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
  const fork = (): Worker => {
    const worker = cluster.fork();
    if (hub !== undefined) serveWorker(hub, worker);
    worker.on('message', (m: unknown) => {
      if (isReady(m)) ready.add(worker.id);
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
  const aggregator = new AggregatorRegistry();
  const admin = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      aggregator.clusterMetrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': aggregator.contentType });
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
 * In a worker: lets the primary's AggregatorRegistry collect `registry`, shuts down when the primary asks, and
 * leaves SIGTERM/SIGINT to the primary (which forwards the request); then tells the primary it serves.
 */
export function runAsWorker(registry: Registry, logger: Logger, shutdown: () => Promise<void>): void {
  new AggregatorRegistry(); // installs the worker's answer to the primary's metrics requests
  AggregatorRegistry.setRegistries([registry]);
  const ignore = (): void => {};
  process.on('SIGTERM', ignore);
  process.on('SIGINT', ignore);
  let stopping = false;
  process.on('message', (m: unknown) => {
    if (stopping || typeof m !== 'object' || m === null || (m as { fairwayShutdown?: unknown }).fairwayShutdown !== true) return;
    stopping = true;
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'worker shutdown failed');
        process.exit(1);
      },
    );
  });
  // The primary gone (killed): nothing will ask this worker to stop, so stop now.
  process.on('disconnect', () => process.exit(0));
  process.send?.({ fairwayWorkerReady: true });
}
