// The admin HTTP port: Prometheus /metrics, liveness /healthz, readiness /readyz, and the status view (/status,
// /status.json, /status/events). With a token configured, everything but the two probes needs it.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type Registry } from 'prom-client';
import { type Logger } from '../core/index.js';
import { AdminAuth } from './admin-auth.js';
import { type StatusHttp } from './status-http.js';

export interface AdminHttpServerOptions {
  readonly registry: Registry;
  readonly ready: () => boolean;
  /** A line /readyz adds to its body without changing its status (the pool unreachable, say). */
  readonly readyNote?: () => string | undefined;
  readonly logger: Logger;
  /** Bearer token required for everything but /healthz and /readyz; none by default. */
  readonly token?: string;
  /** The status routes; none (404) by default. */
  readonly status?: StatusHttp;
}

export class AdminHttpServer {
  private server: Server | undefined;
  private readonly auth: AdminAuth;

  constructor(private readonly o: AdminHttpServerOptions) {
    this.auth = new AdminAuth(o.token);
  }

  async start(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => this.route(req, res));
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
    this.o.status?.closeStreams();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request target\n');
      return;
    }
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    // Probes stay open: kubelets and load balancers check them without credentials.
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const ready = this.o.ready();
      const note = this.o.readyNote?.();
      const body = `${ready ? 'ready' : 'not ready'}\n${note !== undefined ? `${note}\n` : ''}`;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(body);
      return;
    }
    const credential = this.auth.check(req, url);
    if (credential === undefined) {
      res
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="fairway-admin"' })
        .end('admin token required: send "Authorization: Bearer <token>" (browsers: open /status?token=<token> once)\n');
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
      return;
    }
    if (path === '/' && this.o.status !== undefined) {
      res.writeHead(302, { location: '/status' }).end();
      return;
    }
    if (this.o.status?.handle(req, res, url, credential) === true) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}
