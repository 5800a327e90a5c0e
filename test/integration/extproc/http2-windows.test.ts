// The ext_proc server's HTTP/2 windows, read as a peer sees them: a raw node:http2 client connects to the real
// ExtProcService and reads what the server advertised (its SETTINGS_INITIAL_WINDOW_SIZE) and granted (the
// connection's window): by HTTP/2's rules, what the peer may send on a new stream and on the connection before it
// must wait for a WINDOW_UPDATE.
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_HTTP2_WINDOW_BYTES,
  ExtProcService,
  HTTP2_CONNECTION_WINDOW_STREAMS,
  HTTP2_DEFAULT_WINDOW_BYTES,
  applyHttp2Windows,
} from '../../../src/extproc/index.js';
import { validateConfig } from '../../../src/config/index.js';
import { noopLogger } from '../../../src/core/index.js';
import { FairwayServer } from '../../../src/server/index.js';
import { routesToFixedEndpoint } from '../../support/fake-request-handlers.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function serve(http2WindowBytes?: number): Promise<number> {
  const service = new ExtProcService({ handler: routesToFixedEndpoint('10.0.0.1:8000'), ...(http2WindowBytes === undefined ? {} : { http2WindowBytes }) });
  const { port } = await service.start({ host: '127.0.0.1', port: 0 });
  cleanup.push(() => service.close(0));
  return port;
}

/** A raw HTTP/2 session to `port`, once the server's first frames (SETTINGS, WINDOW_UPDATE) are known to have arrived. */
async function connect(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  cleanup.push(() => {
    session.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  // The server writes its SETTINGS and WINDOW_UPDATE when it accepts; a PING round trip after that has them read.
  await new Promise<void>((resolve, reject) => session.ping((err) => (err === null ? resolve() : reject(err))));
  if (session.remoteSettings.initialWindowSize === HTTP2_DEFAULT_WINDOW_BYTES) {
    // A second SETTINGS frame of the server's may still be on its way behind the first: wait for it, briefly.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1_000);
      session.once('remoteSettings', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  return session;
}

describe('ext_proc HTTP/2 windows', () => {
  it('advertises the default stream window and grants the connection 16 stream windows, large enough for a 225 KB body in one flight', async () => {
    const session = await connect(await serve());
    expect(DEFAULT_HTTP2_WINDOW_BYTES).toBeGreaterThan(225_000 + 4 * 64);
    expect(session.remoteSettings.initialWindowSize).toBe(DEFAULT_HTTP2_WINDOW_BYTES);
    expect(session.state.remoteWindowSize).toBe(DEFAULT_HTTP2_WINDOW_BYTES * HTTP2_CONNECTION_WINDOW_STREAMS);
  });

  it('applies a configured window to every connection, not only the first', async () => {
    const port = await serve(300_000);
    for (const session of [await connect(port), await connect(port)]) {
      expect(session.remoteSettings.initialWindowSize).toBe(300_000);
      expect(session.state.remoteWindowSize).toBe(300_000 * HTTP2_CONNECTION_WINDOW_STREAMS);
    }
  });

  it("configured at HTTP/2's own default, leaves the windows as grpc-js alone sets them (what the checks above tell apart)", async () => {
    const session = await connect(await serve(HTTP2_DEFAULT_WINDOW_BYTES));
    expect(session.remoteSettings.initialWindowSize).toBe(HTTP2_DEFAULT_WINDOW_BYTES);
    expect(session.state.remoteWindowSize).toBe(HTTP2_DEFAULT_WINDOW_BYTES);
  });

  it("takes the window from the configuration's server.extProc.http2WindowBytes", async () => {
    const server = new FairwayServer(
      validateConfig({
        pool: { endpoints: [{ host: '127.0.0.1', port: 1 }] },
        server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0, extProc: { http2WindowBytes: 300_000 } },
      }),
      { logger: noopLogger },
    );
    const { grpc: port } = await server.start();
    cleanup.push(() => server.shutdown(0));
    const session = await connect(port);
    expect(session.remoteSettings.initialWindowSize).toBe(300_000);
    expect(session.state.remoteWindowSize).toBe(300_000 * HTTP2_CONNECTION_WINDOW_STREAMS);
  });

  it('refuses a window below HTTP/2 default or above its maximum', () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    expect(() => new ExtProcService({ handler, http2WindowBytes: 65_534 })).toThrow(/http2WindowBytes/);
    expect(() => new ExtProcService({ handler, http2WindowBytes: 2 ** 31 })).toThrow(/http2WindowBytes/);
  });

  it('reports false, changing nothing, on a server whose http2 servers it cannot reach (not bound, or other internals)', () => {
    const windows = { streamBytes: 1 << 20, connectionBytes: 1 << 24 };
    const unbound = new grpc.Server();
    expect(applyHttp2Windows(unbound, windows)).toBe(false);
    expect(applyHttp2Windows({ http2Servers: new Map([[{}, {}]]) } as unknown as grpc.Server, windows)).toBe(false);
    expect(applyHttp2Windows({} as unknown as grpc.Server, windows)).toBe(false);
    unbound.forceShutdown();
  });
});
