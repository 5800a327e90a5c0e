// HTTP face of the status view on the admin port: the page (/status), the snapshot (/status.json, `?seq=N` for a
// recent one again), the live stream (/status/events, Server-Sent Events) and the page's assets. One snapshot
// is serialized per tick for every stream; a stream whose client reads too slowly skips updates instead of
// buffering them.
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Logger } from '../core/index.js';
import { type StatusService, statusPageHtml } from '../status/index.js';
import { AdminAuth, type AdminCredential } from './admin-auth.js';
import { type StatusAssets } from './status-assets.js';

export const DEFAULT_MAX_STATUS_STREAMS = 64;
/** A stream with this much unsent data skips updates until its client catches up. */
const MAX_BUFFERED_BYTES = 1 << 20;

export interface StatusHttpOptions {
  readonly service: StatusService;
  readonly assets: StatusAssets;
  readonly logger: Logger;
  /** The admin token, to set the page's cookie after a `?token=` visit. */
  readonly token?: string;
  /** @default 64 */
  readonly maxStreams?: number;
  /** Shown in the page's header. @default 'Fairway' */
  readonly title?: string;
}

export class StatusHttp {
  private readonly streams = new Set<ServerResponse>();
  private readonly maxStreams: number;
  private readonly page: string;

  constructor(private readonly o: StatusHttpOptions) {
    this.maxStreams = o.maxStreams ?? DEFAULT_MAX_STATUS_STREAMS;
    this.page = o.assets.missing.length === 0 ? statusPageHtml(o.title) : missingAssetsPage(o.assets.missing);
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Answers a /status route; false when `url` is not one. The caller has checked the credential. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, credential: AdminCredential): boolean {
    const path = url.pathname;
    if (path === '/status' || path === '/status/') {
      if (credential === 'query' && this.o.token !== undefined) {
        // Trade the token in the URL for a cookie, and take it out of the address bar (and history).
        res.writeHead(303, { location: '/status', 'set-cookie': AdminAuth.cookieFor(this.o.token), 'cache-control': 'no-store' }).end();
        return true;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(this.page);
      return true;
    }
    if (path === '/status.json') {
      this.json(res, url);
      return true;
    }
    if (path === '/status/events') {
      this.stream(req, res);
      return true;
    }
    if (path.startsWith('/status/assets/')) {
      const asset = this.o.assets.files.get(path.slice('/status/assets/'.length));
      if (asset === undefined) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      else res.writeHead(200, { 'content-type': asset.contentType, 'cache-control': 'no-cache' }).end(asset.body);
      return true;
    }
    return false;
  }

  /** Ends every open stream (shutdown). */
  closeStreams(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  private json(res: ServerResponse, url: URL): void {
    const seqParam = url.searchParams.get('seq');
    const seq = seqParam === null ? undefined : Number(seqParam);
    if (seq !== undefined && !Number.isInteger(seq)) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('seq must be an integer\n');
      return;
    }
    let body: string | undefined;
    try {
      body = this.o.service.json(seq);
    } catch (err) {
      this.o.logger.error({ err }, 'status snapshot failed');
      res.writeHead(500, { 'content-type': 'text/plain' }).end('status snapshot failed\n');
      return;
    }
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`snapshot ${seq} is no longer kept\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
  }

  private stream(req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= this.maxStreams) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' }).end(`too many status streams (${this.maxStreams})\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Proxies in front of the admin port must not buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.streams.add(res);
    const unsubscribe = this.o.service.subscribe((json, seq) => {
      if (res.writableLength > MAX_BUFFERED_BYTES) return;
      res.write(`id: ${seq}\nevent: snapshot\ndata: ${json}\n\n`);
    });
    const done = (): void => {
      unsubscribe();
      this.streams.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  }
}

function missingAssetsPage(missing: readonly string[]): string {
  const list = missing.map((m) => `<li>${m.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)}</li>`).join('');
  return `<!doctype html><meta charset="utf-8"><title>Fairway status</title><h1>Fairway status page unavailable</h1><p>Its assets could not be read (is the package built? <code>npm run build</code>):</p><ul>${list}</ul><p><a href="/status.json">/status.json</a> works without them.</p>`;
}
