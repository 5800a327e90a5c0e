// The admin HTTP port: Prometheus /metrics, liveness /healthz, readiness /readyz.
import { type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type Registry } from 'prom-client';
import { type Logger } from '../core/index.js';

export interface AdminHttpServerOptions {
  readonly registry: Registry;
  readonly ready: () => boolean;
  readonly logger: Logger;
}

export class AdminHttpServer {
  private server: Server | undefined;

  constructor(private readonly o: AdminHttpServerOptions) {}

  async start(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        this.o.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.o.registry.contentType }).end(text),
          (err: unknown) => {
            this.o.logger.error({ err }, 'metrics collection failed');
            res.writeHead(500).end('metrics collection failed\n');
          },
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ready = this.o.ready();
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
