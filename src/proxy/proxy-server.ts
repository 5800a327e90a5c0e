// The standalone data plane: an OpenAI-compatible HTTP reverse proxy over the same RequestHandler as ext_proc.
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { type Logger, ClosedError, FairwayError, noopLogger, requireIntegerInRange } from '../core/index.js';
import {
  type InferenceRequest,
  type RefusalObserver,
  type RejectDecision,
  type RequestHandler,
  reportRefusal,
  type ResponseEnd,
  type RouteDecision,
  type StartedResponseEviction,
  DEFAULT_STARTED_RESPONSE_EVICTION,
  HEADER_DESTINATION_SUBSET,
  HEADER_DROP_REASON,
  HEADER_REQUEST_ID,
  ERROR_CONTENT_TYPE,
  bodyChunks,
  openAiErrorBody,
} from '../gateway/index.js';
import { clientResponseHeaders, headerMapOf, responseHeaderMap, upstreamRequestHeaders } from './http-headers.js';
import { answerClientError } from './client-error.js';
import { ProxyEviction, sseEvictionEvents } from './inflight-eviction.js';
import { readBoundedBody } from './read-body.js';
import { sendUpstream } from './upstream.js';

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
export const DEFAULT_UNREACHABLE_RETRY_AFTER_SECONDS = 5;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Non-streaming completions can take minutes before the first byte. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 600_000;
/** Longest silence between two body chunks. */
export const DEFAULT_BODY_TIMEOUT_MS = 300_000;
export const DEFAULT_CLOSE_GRACE_MS = 5_000;
/** Envoy's default request-header limit is 60 KiB: a request Envoy would pass is not refused here. */
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;
/** The primary and two more candidates: a pod that just died costs a retry, not a 503. */
export const DEFAULT_CONNECT_ATTEMPTS = 3;

export interface ProxyServerOptions {
  readonly handler: RequestHandler;
  /** @default noopLogger */
  readonly logger?: Logger;
  /** Larger request bodies get 413. @default 16 MiB */
  readonly maxBodyBytes?: number;
  /** Larger request headers get 431 (`header-too-large`) with the JSON error body. @default 64 KiB */
  readonly maxHeaderBytes?: number;
  /** @default 5000 */
  readonly connectTimeoutMs?: number;
  /** @default 600000 */
  readonly headersTimeoutMs?: number;
  /** @default 300000 */
  readonly bodyTimeoutMs?: number;
  /** Upstream HTTP client; a keep-alive undici Agent by default (closed with the proxy only if we made it). */
  readonly dispatcher?: Dispatcher;
  /** @default crypto.randomUUID */
  readonly newRequestId?: () => string;
  /** Retry-After (seconds) on the proxy's own 503 when no endpoint can be reached. @default 5 */
  readonly unreachableRetryAfterSeconds?: number;
  /**
   * Honour a client's `x-gateway-destination-endpoint-subset` header. Turn off when clients are not trusted: any
   * client could otherwise pin itself to one pod or force a 503. @default true
   */
  readonly trustSubsetHeader?: boolean;
  /**
   * Endpoints tried per request when connecting fails (nothing was sent, so even a POST is safe to send to the
   * next-best candidate); the pipeline is asked for this many candidates. @default 3
   */
  readonly connectAttempts?: number;
  /** What an in-flight eviction does to a response that has started (see gateway/eviction-relay.ts). @default 'end' */
  readonly startedResponseEviction?: StartedResponseEviction;
  /** Told of each request the proxy refuses itself (413, 431, malformed HTTP, a handler that threw). */
  readonly observer?: RefusalObserver;
}

export interface ProxyListenOptions {
  /** @default '0.0.0.0' */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
}

export class ProxyServer {
  private readonly handler: RequestHandler;
  private readonly logger: Logger;
  private readonly maxBodyBytes: number;
  private readonly maxHeaderBytes: number;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly newRequestId: () => string;
  private readonly unreachableRetryAfterSeconds: number;
  private readonly trustSubsetHeader: boolean;
  private readonly connectAttempts: number;
  private readonly startedResponseEviction: StartedResponseEviction;
  private readonly observer: RefusalObserver | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private server: Server | undefined;
  private starting: Promise<{ port: number }> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ProxyServerOptions) {
    this.handler = options.handler;
    this.logger = options.logger ?? noopLogger;
    this.maxBodyBytes = requireIntegerInRange('maxBodyBytes', options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, 0, Number.MAX_SAFE_INTEGER);
    this.maxHeaderBytes = requireIntegerInRange('maxHeaderBytes', options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES, 1024, 16 * 1024 * 1024);
    this.newRequestId = options.newRequestId ?? randomUUID;
    this.unreachableRetryAfterSeconds = options.unreachableRetryAfterSeconds ?? DEFAULT_UNREACHABLE_RETRY_AFTER_SECONDS;
    this.trustSubsetHeader = options.trustSubsetHeader ?? true;
    this.connectAttempts = requireIntegerInRange('connectAttempts', options.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS, 1, 16);
    this.startedResponseEviction = options.startedResponseEviction ?? DEFAULT_STARTED_RESPONSE_EVICTION;
    this.observer = options.observer;
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Agent({
        connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        headersTimeout: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
        bodyTimeout: options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
      });
  }

  /** Requests being served right now. */
  get activeRequests(): number {
    return this.inFlight.size;
  }

  start(listen: ProxyListenOptions): Promise<{ port: number }> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('ProxyServer'));
    this.starting ??= new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true, maxHeaderSize: this.maxHeaderBytes }, (req, res) => this.track(this.serve(req, res)));
      server.on('clientError', (err: Error & { code?: string }, socket) =>
        answerClientError(err, socket, {
          maxHeaderBytes: this.maxHeaderBytes,
          newRequestId: this.newRequestId,
          logger: this.logger,
          onRefused: (status, reason) => this.reportRefusal(status, reason),
        }),
      );
      server.once('error', (err) => reject(new FairwayError('ERR_LISTEN', `proxy cannot listen on port ${listen.port}`, { cause: err })));
      server.listen(listen.port, listen.host ?? '0.0.0.0', () => {
        this.server = server;
        const port = (server.address() as AddressInfo).port;
        this.logger.info({ port }, 'proxy listening');
        resolve({ port });
      });
    });
    return this.starting;
  }

  /** Stops accepting, lets in-flight requests finish within `graceMs`, then cuts the rest. Idempotent. */
  close(graceMs: number = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    this.closing ??= (async () => {
      await this.starting?.catch(() => undefined);
      const server = this.server;
      if (server !== undefined) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...this.inFlight]),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, graceMs)))),
        ]);
        clearTimeout(timer);
        server.closeAllConnections();
        await closed;
      }
      if (this.ownsDispatcher) await this.dispatcher.destroy();
    })();
    return this.closing;
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => this.logger.error({ err }, 'proxy request failed')).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = headerMapOf(req.headers);
    const given = headers.get(HEADER_REQUEST_ID);
    const requestId = given !== undefined && given !== '' ? given : this.newRequestId();
    if (given !== requestId) headers.set(HEADER_REQUEST_ID, requestId);
    const abort = new AbortController();
    // 'close' before the response finished means the client went away.
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });

    const read = await readBoundedBody(req, this.maxBodyBytes);
    if (read.kind === 'aborted') return;
    if (read.kind === 'too-large') {
      res.setHeader('connection', 'close'); // the unread body makes the connection unusable
      this.refuse(res, requestId, { kind: 'reject', status: 413, reason: 'body-too-large', message: `request body exceeds ${this.maxBodyBytes} bytes` });
      return;
    }
    const subset = this.trustSubsetHeader ? headers.get(HEADER_DESTINATION_SUBSET) : undefined;
    const request: InferenceRequest = {
      requestId,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      body: read.body,
      ...(subset === undefined ? {} : { subsetHint: splitList(subset) }),
      signal: abort.signal,
      endpointCount: this.connectAttempts,
    };
    let decision;
    try {
      decision = await this.handler.handle(request);
    } catch (err) {
      this.logger.error({ err, requestId }, 'request handler threw');
      this.refuse(res, requestId, { kind: 'reject', status: 500, reason: 'internal', message: 'internal error' });
      return;
    }
    if (decision.kind === 'reject') this.reject(res, requestId, decision);
    else await this.forward(request, decision, res, abort.signal);
  }

  /** A refusal of the proxy's own (the pipeline did not decide it, so did not count it): reported, then answered. */
  private refuse(res: ServerResponse, requestId: string, decision: RejectDecision): void {
    this.reportRefusal(decision.status, decision.reason);
    this.reject(res, requestId, decision);
  }

  private reportRefusal(status: number, reason: string): void {
    reportRefusal(this.observer, { reason, status }, this.logger);
  }

  private reject(res: ServerResponse, requestId: string, decision: RejectDecision): void {
    if (res.headersSent || res.destroyed) return;
    const body = openAiErrorBody(decision.status, decision.reason, decision.message);
    const headers: Record<string, string> = {
      'content-type': ERROR_CONTENT_TYPE,
      'content-length': String(Buffer.byteLength(body)),
      [HEADER_DROP_REASON]: decision.reason,
      [HEADER_REQUEST_ID]: requestId,
    };
    if (decision.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(0, Math.ceil(decision.retryAfterSeconds)));
    res.writeHead(decision.status, headers);
    res.end(body);
  }

  private async forward(request: InferenceRequest, decision: RouteDecision, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const observer = decision.response;
    let ended = false;
    const end = (how: ResponseEnd): void => {
      if (ended) return;
      ended = true;
      try {
        observer.onEnd(how);
      } catch (err) {
        this.logger.error({ err, requestId: request.requestId }, 'response observer onEnd threw');
      }
    };
    // Flow control may take the request back while it runs: the upstream is aborted and the client told.
    const eviction = new ProxyEviction(signal, decision.eviction, this.startedResponseEviction, () => end('evicted'));
    try {
      await this.relay(request, decision, res, signal, eviction, end);
    } finally {
      eviction.dispose();
    }
  }

  private async relay(
    request: InferenceRequest,
    decision: RouteDecision,
    res: ServerResponse,
    signal: AbortSignal,
    eviction: ProxyEviction,
    end: (how: ResponseEnd) => void,
  ): Promise<void> {
    const observer = decision.response;
    if (signal.aborted) return end('aborted');
    const result = await sendUpstream(this.dispatcher, {
      endpoints: decision.endpoints.slice(0, this.connectAttempts),
      method: request.method,
      path: request.path,
      headers: { ...upstreamRequestHeaders(request.headers, decision.setHeaders), 'content-length': String(decision.body.length) },
      body: bodyChunks(decision.body),
      signal: eviction.signal,
      onConnectFailed: (endpoint, retrying, error) => {
        this.logger.debug({ endpoint, retrying, err: error, requestId: request.requestId }, 'upstream connect failed');
        safe(() => observer.onConnectFailed?.(endpoint, retrying));
      },
    });
    const evicted = eviction.rejection;
    if (evicted !== undefined) {
      if (result.kind === 'response') result.response.body.destroy();
      this.reject(res, request.requestId, evicted);
      return;
    }
    if (result.kind !== 'response') {
      end('aborted');
      if (signal.aborted) return;
      this.logger.warn({ err: result.error, requestId: request.requestId }, 'upstream request failed');
      const status = result.kind === 'unreachable' ? 503 : 502;
      const reason = result.kind === 'unreachable' ? 'upstream-unreachable' : 'upstream-error';
      this.reject(res, request.requestId, {
        kind: 'reject',
        status,
        reason,
        message: `upstream ${result.kind === 'unreachable' ? 'unreachable' : 'failed'}`,
        ...(status === 503 ? { retryAfterSeconds: this.unreachableRetryAfterSeconds } : {}),
      });
      return;
    }
    const { response, endpoint } = result;
    const sse = /text\/event-stream/i.test(String(response.headers['content-type'] ?? ''));
    try {
      safe(() => observer.onServedEndpoint?.(endpoint));
      const headers = clientResponseHeaders(response.headers);
      if (headers[HEADER_REQUEST_ID] === undefined) headers[HEADER_REQUEST_ID] = request.requestId;
      for (const [name, value] of safe(() => observer.responseHeaders?.()) ?? []) headers[name] = value;
      safe(() => observer.onHeaders(response.statusCode, responseHeaderMap(headers)));
      // An evictable request's headers wait for its first byte: evicted before that, the client gets a clean 429.
      const startResponse = (): void => {
        if (res.headersSent) return;
        eviction.markStarted();
        res.writeHead(response.statusCode, headers);
      };
      if (decision.eviction === undefined) {
        startResponse();
        res.flushHeaders();
      }
      for await (const chunk of response.body) {
        if (eviction.rejection !== undefined) break;
        const buf = chunk as Buffer;
        safe(() => observer.onBody(buf));
        startResponse();
        if (!res.write(buf)) await drained(res);
        if (signal.aborted) throw new Error('client went away');
        if (eviction.rejection !== undefined) break;
      }
      if (eviction.rejection === undefined) {
        eviction.markFinished();
        startResponse();
        res.end();
        end('complete');
        return;
      }
    } catch (err) {
      if (eviction.rejection === undefined) {
        end('aborted');
        if (!signal.aborted) this.logger.warn({ err, requestId: request.requestId }, 'response relay failed');
        response.body.destroy();
        res.destroy();
        return;
      }
    }
    this.endEvicted(res, request.requestId, eviction.rejection, sse);
    response.body.destroy();
  }

  /** Tells the client its request was evicted: 429 if nothing was sent, else an SSE error event, else a cut. */
  private endEvicted(res: ServerResponse, requestId: string, rejection: RejectDecision, sse: boolean): void {
    if (!res.headersSent) this.reject(res, requestId, rejection);
    else if (sse && !res.destroyed) res.end(sseEvictionEvents(rejection));
    else res.destroy();
  }
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    // observer errors must not break the relay; onEnd still follows
    return undefined;
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function splitList(s: string): string[] {
  return s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}
