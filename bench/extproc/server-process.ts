// Child-process entry for the benchmark: runs one ext_proc server (ours or the bare one) on its own core and
// reports its port and CPU time over IPC, so server cost is measured apart from the load client.
import { pathToFileURL } from 'node:url';
import { ExtProcService } from '../../src/extproc/index.js';
import { type Decision, type InferenceRequest, type RequestHandler } from '../../src/gateway/index.js';
import { startBareExtProcServer } from './bare-ext-proc-server.js';

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

async function main(kind: string): Promise<void> {
  let port: number;
  let close: () => Promise<void> | void;
  if (kind === 'fairway') {
    const service = new ExtProcService({ handler: fixedRoute });
    port = (await service.start({ host: '127.0.0.1', port: 0 })).port;
    close = () => service.close(0);
  } else {
    const bare = await startBareExtProcServer();
    port = bare.port;
    close = bare.close;
  }
  process.on('message', (m: unknown) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cpuMicros: u.user + u.system });
    } else if (m === 'exit') {
      void Promise.resolve(close()).then(() => process.exit(0));
    }
  });
  process.send?.({ port });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv[2] ?? 'fairway');
}
