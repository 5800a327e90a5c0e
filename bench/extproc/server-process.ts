// Child-process entry for the benchmark: runs one ext_proc server on its own (ours or the bare one) and reports
// its port and CPU time over IPC, so server cost is measured apart from the load client.
//   fixed    our ExtProcService with a trivial fixed-route handler (protocol cost only)
//   fairway  the whole FairwayServer (pipeline, flow control, scheduler, prefix index, scraping) over the
//            endpoints given as a JSON argument
//   bare     the protocol-only baseline (bare-ext-proc-server.ts); with a number as argument, that HTTP/2 window
//   bare-proxy  a bare Node reverse proxy to the upstream given as argument (bare-proxy.ts)
// With `"proxy": true` in its argument, `fairway` reports its HTTP proxy's port instead of the gRPC one.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { validateConfig } from '../../src/config/index.js';
import { noopLogger } from '../../src/core/index.js';
import { ExtProcService } from '../../src/extproc/index.js';
import { type Decision, type InferenceRequest, type RequestHandler } from '../../src/gateway/index.js';
import { FairwayServer, tuneHeapGrowth } from '../../src/server/index.js';
import { startBareExtProcServer } from './bare-ext-proc-server.js';
import { startBareProxy } from './bare-proxy.js';

/** The trivial handler: a fixed route, body unchanged, observer that ignores everything. */
const fixedRoute: RequestHandler = {
  handle: async (request: InferenceRequest): Promise<Decision> => ({
    kind: 'route',
    endpoints: ['10.0.0.1:8000'],
    body: request.body,
    setHeaders: new Map(),
    response: { onHeaders: () => undefined, onBody: () => undefined, onEnd: () => undefined },
  }),
};

async function startFairway(endpoints: unknown, extra: Record<string, unknown>, proxy: boolean): Promise<{ port: number; close: () => Promise<void> }> {
  // A `server` section in `extra` adds to the bench's own (ports, host) rather than replacing it.
  const { server: serverExtra, ...rest } = extra as { server?: Record<string, unknown> };
  const server = new FairwayServer(
    validateConfig({
      pool: { endpoints, metrics: { intervalMs: 50, stalenessMs: 2_000 } },
      server: { ...serverExtra, host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0, shutdownGraceMs: 0, ...(proxy ? { proxyPort: 0 } : {}) },
      logging: { level: 'silent' },
      ...rest,
    }),
    { logger: noopLogger },
  );
  const ports = await server.start();
  const port = proxy ? ports.proxy : ports.grpc;
  if (port === undefined) throw new Error('the proxy did not start');
  return { port, close: () => server.shutdown(0) };
}

/** Garbage collections since start: counts by kind and their pauses (incremental marking steps not included). */
const gc = { major: 0, minor: 0, pauseMs: 0 };
function observeGc(): void {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
      else gc.minor++;
      gc.pauseMs += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
}

async function main(kind: string, arg: string | undefined): Promise<void> {
  observeGc();
  // Our servers run with the heap growth the CLI sets (src/server/heap-growth.ts); the bare ones with Node's default.
  if (kind === 'fixed' || kind === 'fairway') tuneHeapGrowth(process.execArgv, process.env['NODE_OPTIONS']);
  let port: number;
  let close: () => Promise<void> | void;
  if (kind === 'fixed') {
    const service = new ExtProcService({ handler: fixedRoute });
    port = (await service.start({ host: '127.0.0.1', port: 0 })).port;
    close = () => service.close(0);
  } else if (kind === 'fairway') {
    const { endpoints, config, proxy } = JSON.parse(arg ?? '{}') as { endpoints?: unknown; config?: Record<string, unknown>; proxy?: boolean };
    ({ port, close } = await startFairway(endpoints ?? [], config ?? {}, proxy === true));
  } else if (kind === 'bare-proxy') {
    ({ port, close } = await startBareProxy(arg ?? ''));
  } else {
    const bare = await startBareExtProcServer(0, arg === undefined ? undefined : Number(arg));
    port = bare.port;
    close = bare.close;
  }
  process.on('message', (m: unknown) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cpuMicros: u.user + u.system });
    } else if (m === 'gc') {
      process.send?.({ gc: { ...gc } });
    } else if (m === 'exit') {
      void Promise.resolve(close()).then(() => process.exit(0));
    }
  });
  process.send?.({ port });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv[2] ?? 'fairway', process.argv[3]);
}
