// Metrics fetcher port and its HTTP(S) implementation: one keep-alive HTTP/1.1 connection per endpoint over a
// plain net.Socket (or tls.connect), a request prepared once as bytes, and every read handed straight to the
// response parser and on to the page reader: no stream objects, no per-read buffers, no concatenated body.
// Measured against undici's dispatch API for this one job in bench/datalayer (see the README's dependencies).
import { type Socket, connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { requirePositive } from '../core/index.js';
import { COMPLETE, Http1ResponseParser } from './http1-response-parser.js';
import { ScrapeFailure, timeoutWhileConnected, toScrapeFailure } from './scrape-failure.js';

export interface MetricsTarget {
  readonly host: string;
  readonly port: number;
  /** Request path, e.g. `/metrics`. */
  readonly path: string;
  /**
   * Sample names to ask for with `name[]` query parameters (Prometheus client libraries then leave every other
   * family out of the page); absent: the whole page is asked for. A server that ignores them sends the whole
   * page, which reads the same.
   */
  readonly names?: readonly string[];
}

/** Takes a metrics body chunk by chunk. */
export interface MetricsBodySink {
  /** Returns false once it needs no more; the rest of the body is then read off the connection unexamined. */
  push(chunk: Buffer): boolean;
}

/** Called once per request: undefined when it was a complete 200, else why not. */
export type FetchDone = (failure: ScrapeFailure | undefined) => void;

/**
 * Fetches one endpoint's metrics page. One instance per endpoint; the scraper never overlaps requests.
 * Callbacks, not promises: at 20,000 scrapes a second a promise and an AbortController per scrape show.
 */
export interface MetricsFetcher {
  /**
   * Sends one request and streams a 200 answer's body into `sink`; `done` is called exactly once, never before
   * `start` returns: undefined when the answer was complete, else a {@link ScrapeFailure} (network error,
   * non-200 status, oversize body, wrong content type, abort). `whole` asks for the whole page even when the
   * target names the families it wants.
   */
  start(sink: MetricsBodySink, done: FetchDone, whole?: boolean): void;
  /**
   * Ends the request in progress with `failure` (its `done` still comes, with it); no-op when none is. A
   * 'timeout' on a connection already made becomes 'slow' (and the connection may be kept for the next request),
   * or 'silent' when not one byte came on it since the previous request ended (a late answer to that one counts).
   */
  abort(failure: ScrapeFailure): void;
  /** Releases connections (aborting a request in progress); idempotent. */
  close(): Promise<void>;
}

export type MetricsFetcherFactory = (target: MetricsTarget) => MetricsFetcher;

/** @default 4 MiB: a vLLM page is ~40-150 KB; anything far larger is a misconfigured path, not metrics. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** @default 30 s: far above the scrape interval, so the connection is reused between scrapes. */
export const DEFAULT_KEEP_ALIVE_MS = 30_000;

/** How to reach secured model servers' metrics. */
export interface MetricsTlsOptions {
  /** PEM CA bundle to verify the server with; Node's default CAs when absent. */
  readonly ca?: string;
  /** Skip certificate verification (self-signed model servers); the traffic is still encrypted. @default false */
  readonly insecureSkipVerify?: boolean;
  /** Name to verify the certificate against (SNI) when it differs from the host. */
  readonly serverName?: string;
}

/** TLS connect options for an HTTPS model server (shared by the scraper and the model-list poller). */
export function tlsConnectOptions(tls: MetricsTlsOptions | undefined): { rejectUnauthorized: boolean; ca?: string; servername?: string } {
  return {
    rejectUnauthorized: tls?.insecureSkipVerify !== true,
    ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls?.serverName !== undefined ? { servername: tls.serverName } : {}),
  };
}

export interface HttpMetricsFetcherOptions {
  /** @default DEFAULT_MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
  /** A connection idle this long is not reused (the server may be closing it). @default DEFAULT_KEEP_ALIVE_MS */
  readonly keepAliveMs?: number;
  /** `https` scrapes over TLS. @default 'http' */
  readonly scheme?: 'http' | 'https';
  readonly tls?: MetricsTlsOptions;
  /** Sent as `Authorization: Bearer <token>`; read at every request, so it may rotate. */
  readonly bearerToken?: () => string | undefined;
}

/**
 * Plain-TCP reads land in this one buffer (net.Socket's `onread`), shared by every connection of the thread:
 * reads are handled synchronously and whatever outlives one (a cut line, a cut head) is copied.
 */
let sharedReadBuffer: Buffer | undefined;
const READ_BUFFER_BYTES = 64 * 1024;

/** The request in flight: one record per fetcher, rewritten for each request (no object per scrape). */
interface InFlight {
  sink: MetricsBodySink;
  done: FetchDone;
  /** The request went out on a connection that had carried earlier ones (a keep-alive race may retry once). */
  reused: boolean;
  retried: boolean;
  whole: boolean;
}

const NO_SINK: MetricsBodySink = { push: () => false };
const NO_DONE: FetchDone = () => undefined;

/**
 * One endpoint's metrics over one keep-alive HTTP/1.1 connection (no pipelining: scrapes never overlap). A
 * connection that saw anything unexpected is dropped and the next request opens a new one.
 *
 * A request that times out on a connection already made keeps the connection: its late answer is read to its
 * end and dropped (framed and counted only), and the next request goes out on the same connection once it has
 * ended. A scraper short of CPU for a moment (whose answers wait unread past their timeout) thus pays a few
 * discarded reads, not a reconnect per endpoint, which would cost more than the scrapes and make it later still.
 * If the late answer has not ended when the next request times out too, the connection is dropped: a hung or
 * dribbling server holds one connection for at most two timeouts.
 *
 * Per request: one write of the prepared request bytes; per read, the parser's framing and the page reader.
 */
export class HttpMetricsFetcher implements MetricsFetcher {
  private readonly maxBodyBytes: number;
  private readonly keepAliveMs: number;
  private readonly parser: Http1ResponseParser;
  private socket: Socket | undefined;
  /** Whether the current socket has carried a complete answer (so a close before any byte may be a race). */
  private socketUsed = false;
  /** The current socket is connected (and its TLS handshake done). */
  private connected = false;
  private idleSince = 0;
  /** `record` while a request is in flight. */
  private current: InFlight | undefined;
  /**
   * The one request record. Callers read what they need of it before settling or resending, and `settle` calls
   * `done` after clearing `current`, so a request started from `done` may rewrite it at once.
   */
  private readonly record: InFlight = { sink: NO_SINK, done: NO_DONE, reused: false, retried: false, whole: false };
  /** The socket still carries the answer to a request that timed out: read off and dropped (see the class). */
  private draining = false;
  /** `current` was not sent yet: it goes out when the draining answer ends. */
  private waiting = false;
  /**
   * Bytes came on the connection since the last request ended (its own answer's, or a late answer's being
   * drained): a request timing out without any is 'silent' (a frozen pod), else 'slow' (the pod answers, late).
   */
  private heard = false;
  /** The prepared request naming the target's families (or the whole page's, when it names none). */
  private request: Buffer = Buffer.alloc(0);
  /** The prepared request for the whole page. */
  private wholeRequest: Buffer = Buffer.alloc(0);
  /** The token the requests were built with; unset until the first request is built. */
  private requestToken: { readonly value: string | undefined } | undefined;
  private closed = false;

  constructor(
    private readonly target: MetricsTarget,
    private readonly options: HttpMetricsFetcherOptions = {},
  ) {
    this.maxBodyBytes = requirePositive('maxBodyBytes', options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    this.keepAliveMs = requirePositive('keepAliveMs', options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS);
    this.parser = new Http1ResponseParser(this.maxBodyBytes);
  }

  /** The request as a promise, aborted through `signal` (for one-off use; the scraper uses start/abort). */
  fetch(signal: AbortSignal, sink: MetricsBodySink): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const abortReason = (): ScrapeFailure =>
        toScrapeFailure(signal.reason instanceof Error ? signal.reason : new ScrapeFailure('other', 'scrape aborted'));
      if (signal.aborted) {
        reject(abortReason());
        return;
      }
      const onAbort = (): void => this.abort(abortReason());
      signal.addEventListener('abort', onAbort, { once: true });
      this.start(sink, (failure) => {
        signal.removeEventListener('abort', onAbort);
        if (failure === undefined) resolve();
        else reject(failure);
      });
    });
  }

  /**
   * Sends the request; `done` is called exactly once, asynchronously, when the answer is complete or failed
   * (or `abort` was called). One request at a time: a second start before `done` fails at once.
   */
  start(sink: MetricsBodySink, done: FetchDone, whole = false): void {
    if (this.current !== undefined || this.closed) {
      queueMicrotask(() => done(new ScrapeFailure('other', this.closed ? 'fetcher closed' : 'a scrape of this endpoint is already running')));
      return;
    }
    this.send(sink, done, whole, false);
  }

  /**
   * Ends the request in progress with `failure`. A 'timeout' once the connection is up (TLS handshake done)
   * becomes 'slow' (the pod is there, its page is late), or 'silent' when not a byte came since the previous
   * answer; where the answer's framing allows, the connection is kept and the late answer read off, else dropped.
   */
  abort(failure: ScrapeFailure): void {
    const current = this.current;
    if (current === undefined) return;
    const reason = this.connected ? toScrapeFailure(timeoutWhileConnected(failure, this.heard)) : failure;
    if (failure.reason === 'timeout' && this.connected && !this.waiting && !this.closed && this.parser.mayBeReusable) {
      // The answer may still come: it is read off (not into this scrape's sink) so the connection stays usable.
      this.parser.discard();
      this.draining = true;
      this.settle(current, reason);
      return;
    }
    this.drop();
    this.settle(current, reason);
  }

  close(): Promise<void> {
    this.closed = true;
    this.abort(new ScrapeFailure('other', 'fetcher closed'));
    this.drop();
    return Promise.resolve();
  }

  private send(sink: MetricsBodySink, done: FetchDone, whole: boolean, retried: boolean): void {
    const token = this.options.bearerToken?.();
    if (this.requestToken === undefined || token !== this.requestToken.value) {
      try {
        this.buildRequests(token);
      } catch (err: unknown) {
        queueMicrotask(() => done(toScrapeFailure(err)));
        return;
      }
    }
    if (this.draining) {
      // The connection still carries a timed-out request's answer: this one goes out once that has ended.
      this.current = this.fill(sink, done, true, retried, whole);
      this.waiting = true;
      return;
    }
    // Idle past the keep-alive time: the server may be closing it right now; a fresh one avoids the race.
    if (this.socket !== undefined && performance.now() - this.idleSince > this.keepAliveMs) this.drop();
    this.transmit(this.fill(sink, done, this.socket !== undefined && this.socketUsed, retried, whole));
  }

  private fill(sink: MetricsBodySink, done: FetchDone, reused: boolean, retried: boolean, whole: boolean): InFlight {
    const record = this.record;
    record.sink = sink;
    record.done = done;
    record.reused = reused;
    record.retried = retried;
    record.whole = whole;
    return record;
  }

  /** Writes `request`'s bytes on the current connection (opened when there is none). */
  private transmit(request: InFlight): void {
    const socket = this.socket ?? this.open();
    this.current = request;
    this.waiting = false;
    this.parser.begin(request.sink);
    socket.write(request.whole ? this.wholeRequest : this.request);
  }

  /** The timed-out request's answer ended (`reusable`: the connection may carry the next one); sends a waiting one. */
  private endDrain(reusable: boolean): void {
    this.draining = false;
    if (reusable) {
      this.socketUsed = true;
      this.idleSince = performance.now();
    } else {
      this.drop();
    }
    const current = this.current;
    if (current !== undefined && this.waiting) {
      current.reused = reusable;
      this.transmit(current);
    }
  }

  /** Both requests, built once per token (the bytes are reused for every scrape). */
  private buildRequests(token: string | undefined): void {
    const { path, names } = this.target;
    // Checked per request, not in the constructor: a bad endpoint spec fails its scrapes, it never throws.
    if (/\s/.test(path) || !path.startsWith('/')) {
      throw new ScrapeFailure('other', `metrics path ${JSON.stringify(path)} is not an absolute path without blanks`);
    }
    if (token !== undefined && /[\r\n]/.test(token)) throw new ScrapeFailure('other', 'bearer token holds a line break');
    this.wholeRequest = this.buildRequest(path, token);
    this.request = names === undefined || names.length === 0 ? this.wholeRequest : this.buildRequest(path + nameQuery(path, names), token);
    this.requestToken = { value: token };
  }

  private buildRequest(path: string, token: string | undefined): Buffer {
    const host = isIP(this.target.host) === 6 ? `[${this.target.host}]` : this.target.host;
    return Buffer.from(
      `GET ${path} HTTP/1.1\r\nhost: ${host}:${this.target.port}\r\n` +
        // identity: compressing 40 KB costs the model server more CPU than the loopback or pod network saves.
        'accept: text/plain;version=0.0.4\r\naccept-encoding: identity\r\nuser-agent: fairway\r\n' +
        (token === undefined ? '' : `authorization: Bearer ${token}\r\n`) +
        '\r\n',
      'latin1',
    );
  }

  private open(): Socket {
    const { host, port } = this.target;
    let socket: Socket;
    if (this.options.scheme === 'https') {
      const tls = tlsConnectOptions(this.options.tls);
      // SNI defaults to the host when it is a name (an IP address cannot be sent as one).
      socket = tlsConnect({
        host,
        port,
        ALPNProtocols: ['http/1.1'],
        ...tls,
        ...(tls.servername === undefined && isIP(host) === 0 ? { servername: host } : {}),
      });
      socket.on('data', (chunk: Buffer) => this.onBytes(socket, chunk, chunk.length));
      socket.once('secureConnect', () => this.onConnected(socket));
    } else {
      sharedReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
      socket = netConnect({
        host,
        port,
        onread: {
          buffer: sharedReadBuffer,
          // The shared buffer itself and the count: no view object per read.
          callback: (bytes: number, buf: Uint8Array): boolean => {
            this.onBytes(socket, buf as Buffer, bytes);
            return true;
          },
        },
      });
      socket.once('connect', () => this.onConnected(socket));
    }
    socket.setNoDelay(true);
    socket.on('error', (err: Error) => this.onSocketGone(socket, err));
    socket.on('end', () => this.onSocketGone(socket, undefined));
    socket.on('close', () => this.onSocketGone(socket, undefined));
    this.socket = socket;
    this.socketUsed = false;
    this.connected = false;
    return socket;
  }

  private onConnected(socket: Socket): void {
    if (socket === this.socket) this.connected = true;
  }

  /** `chunk[0, length)` came on `socket` (`chunk` may be the shared read buffer, holding stale bytes after). */
  private onBytes(socket: Socket, chunk: Buffer, length: number): void {
    if (socket === this.socket) this.heard = true;
    if (socket === this.socket && this.draining) {
      let late;
      try {
        late = this.parser.push(chunk, length);
      } catch {
        this.endDrain(false);
        return;
      }
      if (late === COMPLETE) this.endDrain(this.parser.reusable);
      return;
    }
    const current = this.current;
    if (socket !== this.socket || current === undefined) {
      // Bytes nobody asked for: this connection's framing can no longer be trusted.
      if (socket === this.socket) this.drop();
      else socket.destroy();
      return;
    }
    let result;
    try {
      result = this.parser.push(chunk, length);
    } catch (err: unknown) {
      this.drop();
      this.settle(current, toScrapeFailure(err));
      return;
    }
    if (result !== COMPLETE) return;
    if (this.parser.reusable) {
      this.socketUsed = true;
      this.idleSince = performance.now();
    } else {
      this.drop();
    }
    this.settle(current, this.parser.failure);
  }

  private onSocketGone(socket: Socket, err: Error | undefined): void {
    if (socket !== this.socket) return;
    if (this.draining) {
      // Closed before the late answer ended: a waiting request goes out on a new connection.
      this.endDrain(false);
      return;
    }
    const current = this.current;
    this.drop();
    if (current === undefined) return;
    if (err === undefined) {
      try {
        if (this.parser.end() === COMPLETE) {
          this.settle(current, this.parser.failure);
          return;
        }
      } catch (failure: unknown) {
        // A kept-alive connection the server closed just as the request went out: once more on a new one.
        if (current.reused && !current.retried && this.parser.received === 0 && !this.closed) {
          this.current = undefined;
          this.send(current.sink, current.done, current.whole, true);
          return;
        }
        this.settle(current, toScrapeFailure(failure));
        return;
      }
    }
    if (current.reused && !current.retried && this.parser.received === 0 && !this.closed && isResetBeforeAnswer(err)) {
      this.current = undefined;
      this.send(current.sink, current.done, current.whole, true);
      return;
    }
    this.settle(current, toScrapeFailure(err));
  }

  private settle(current: InFlight, failure: ScrapeFailure | undefined): void {
    if (this.current !== current) return;
    this.current = undefined;
    this.waiting = false;
    this.heard = false;
    current.done(failure);
  }

  private drop(): void {
    this.draining = false;
    const socket = this.socket;
    if (socket === undefined) return;
    this.socket = undefined;
    this.connected = false;
    socket.destroy();
  }
}

/**
 * `?name%5B%5D=vllm:a&name%5B%5D=vllm:b` (after `&` when the path has a query already): the brackets percent-encoded as
 * a URL query requires, which servers decode back to `name[]` (Python's parse_qs, Node's URLSearchParams).
 */
export function nameQuery(path: string, names: readonly string[]): string {
  // A colon may stand in a query as it is (RFC 3986 pchar), and metric names are full of them.
  return (path.includes('?') ? '&' : '?') + names.map((n) => `name%5B%5D=${encodeURIComponent(n).replaceAll('%3A', ':')}`).join('&');
}

function isResetBeforeAnswer(err: Error | undefined): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

export function httpMetricsFetcherFactory(options: HttpMetricsFetcherOptions = {}): MetricsFetcherFactory {
  return (target) => new HttpMetricsFetcher(target, options);
}
