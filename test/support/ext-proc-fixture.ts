// An ExtProcService on a loopback port with an Envoy-like client, closed after each test of the file using it.
import { afterEach } from 'vitest';
import { type ExtProcServiceOptions, ExtProcService } from '../../src/extproc/index.js';
import { type RequestHandler } from '../../src/gateway/index.js';
import { EnvoyExtProcClient } from './envoy-ext-proc-client.js';

export type ServeOptions = Omit<ExtProcServiceOptions, 'handler'>;

/** Call at the top of a test file: returns `serve`, whose services and clients close after every test. */
export function useExtProcService(): (handler: RequestHandler, opts?: ServeOptions) => Promise<{ service: ExtProcService; client: EnvoyExtProcClient }> {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  return async (handler, opts = {}) => {
    const service = new ExtProcService({ handler, ...opts });
    const { port } = await service.start({ host: '127.0.0.1', port: 0 });
    const client = new EnvoyExtProcClient(`127.0.0.1:${port}`);
    cleanup.push(async () => {
      client.close();
      await service.close(100);
    });
    return { service, client };
  };
}
