// Metrics fetcher port and its HTTP(S) implementation: one keep-alive undici Pool per endpoint (removing an
// endpoint closes exactly its socket), driven through undici's low-level dispatch API so body chunks go
// straight from the socket to the page reader: no stream objects, no async iteration, no concatenated body.
import { type Dispatcher, Pool } from 'undici';
import { requirePositive } from '../core/index.js';
import { endpointId } from './endpoint.js';
import { ScrapeFailure, timeoutWhileConnected, toScrapeFailure } from './scrape-failure.js';

export interface MetricsTarget {
  readonly host: string;
  readonly port: number;
  /** Request path, e.g. `/metrics`. */
  readonly path: string;
}

/** Takes a metrics body chunk by chunk. */
export interface MetricsBodySink {
  /** Returns false once it needs no more; the rest of the body is then read off the connection unexamined. */
  push(chunk: Buffer): boolean;
}

/** Fetches one endpoint's metrics page. One instance per endpoint; the scraper never overlaps calls. */
export interface MetricsFetcher {
  /**
   * Streams a 200 answer's body into `sink` and resolves when the answer is complete; rejects with a
   * {@link ScrapeFailure} (network error, non-200 status, oversize body, wrong content type, abort). An abort
   * rejects with the signal's reason, except that a 'timeout' on a connection already made becomes 'slow'.
   */
  fetch(signal: AbortSignal, sink: MetricsBodySink): Promise<void>;
  /** Releases connections; idempotent. */
  close(): Promise<void>;
}

export type MetricsFetcherFactory = (target: MetricsTarget) => MetricsFetcher;

/** @default 4 MiB: a vLLM page is ~40-150 KB; anything far larger is a misconfigured path, not metrics. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** @default 30 s: far above the scrape interval, so the connection is reused between scrapes. */
export const DEFAULT_KEEP_ALIVE_MS = 30_000;
/** An error page is read this far (so the connection survives it), then the connection is dropped. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** How to reach secured model servers' metrics. */
export interface MetricsTlsOptions {
  /** PEM CA bundle to verify the server with; Node's default CAs when absent. */
  readonly ca?: string;
  /** Skip certificate verification (self-signed model servers); the traffic is still encrypted. @default false */
  readonly insecureSkipVerify?: boolean;
  /** Name to verify the certificate against (SNI) when it differs from the host. */
  readonly serverName?: string;
}

/** undici's connect options for an HTTPS model server (shared by the scraper and the model-list poller). */
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
  /** @default DEFAULT_KEEP_ALIVE_MS */
  readonly keepAliveMs?: number;
  /** `https` scrapes over TLS. @default 'http' */
  readonly scheme?: 'http' | 'https';
  readonly tls?: MetricsTlsOptions;
  /** Sent as `Authorization: Bearer <token>`; read when each connection's request is built, so it may rotate. */
  readonly bearerToken?: () => string | undefined;
}

/**
 * Content types a metrics page may come as. A missing header is accepted (some exporters send none);
 * `text/html` or `application/json` means the path points at something else.
 */
function isMetricsContentType(value: string | string[] | undefined): boolean {
  if (value === undefined) return true;
  const type = (Array.isArray(value) ? (value[0] ?? '') : value).split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return type === '' || type === 'text/plain' || type === 'application/openmetrics-text';
}

export class HttpMetricsFetcher implements MetricsFetcher {
  private readonly pool: Pool;
  private readonly maxBodyBytes: number;
  private readonly token: (() => string | undefined) | undefined;
  private readonly baseHeaders: Record<string, string>;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly target: MetricsTarget,
    options: HttpMetricsFetcherOptions = {},
  ) {
    this.maxBodyBytes = requirePositive('maxBodyBytes', options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    const keepAlive = requirePositive('keepAliveMs', options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS);
    this.token = options.bearerToken;
    // identity encoding: compressing 40 KB costs the model server more CPU than the loopback or pod network saves.
    this.baseHeaders = { accept: 'text/plain;version=0.0.4', 'accept-encoding': 'identity' };
    const scheme = options.scheme ?? 'http';
    const tls = options.tls;
    // One connection, no pipelining: scrapes never overlap, and a second socket would only be a leak risk.
    // Timeouts live in the scraper (through the injected Clock); undici's own are a generous backstop.
    this.pool = new Pool(`${scheme}://${endpointId(target.host, target.port)}`, {
      connections: 1,
      pipelining: 1,
      keepAliveTimeout: keepAlive,
      keepAliveMaxTimeout: keepAlive,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      ...(scheme === 'https' ? { connect: tlsConnectOptions(tls) } : {}),
    });
  }

  fetch(signal: AbortSignal, sink: MetricsBodySink): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const abortReason = (): Error =>
        signal.reason instanceof Error ? signal.reason : new ScrapeFailure('other', 'scrape aborted');
      if (signal.aborted) {
        reject(toScrapeFailure(abortReason()));
        return;
      }
      // Set once the connection is up (undici starts the request on a connected socket).
      let controller: Dispatcher.DispatchController | undefined;
      let settled = false;
      const settle = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else reject(toScrapeFailure(err));
      };
      // Connected: a timeout means a slow page (stale metrics), not an unreachable pod. Not connected yet: settle
      // now rather than when the connect attempt ends (undici's connect timeout is 10 s); the queued request is
      // aborted by onRequestStart if the connection comes up after all.
      const onAbort = (): void => {
        if (controller === undefined) settle(abortReason());
        else controller.abort(timeoutWhileConnected(abortReason()));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const max = this.maxBodyBytes;
      let status = 0;
      let size = 0;
      let wanting = true;
      const token = this.token?.();
      const headers = token === undefined ? this.baseHeaders : { ...this.baseHeaders, authorization: `Bearer ${token}` };
      this.pool.dispatch(
        { path: this.target.path, method: 'GET', headers },
        {
          onRequestStart(c) {
            controller = c;
            if (signal.aborted) c.abort(abortReason());
          },
          onResponseStart(c, statusCode, responseHeaders) {
            status = statusCode;
            if (statusCode !== 200) return;
            const length = Number(responseHeaders['content-length']);
            if (length > max) {
              c.abort(new ScrapeFailure('too-large', `metrics page of ${length} bytes is over the ${max}-byte limit`));
            } else if (!isMetricsContentType(responseHeaders['content-type'])) {
              c.abort(new ScrapeFailure('wrong-type', `content type ${String(responseHeaders['content-type'])} is not a metrics page`));
            }
          },
          onResponseData(c, chunk) {
            size += chunk.length;
            if (status !== 200) {
              if (size > MAX_ERROR_BODY_BYTES) c.abort(new ScrapeFailure('http-status', `HTTP status ${status}`));
              return;
            }
            if (size > max) {
              c.abort(new ScrapeFailure('too-large', `metrics page larger than the ${max}-byte limit`));
              return;
            }
            if (wanting) wanting = sink.push(chunk);
          },
          onResponseEnd() {
            settle(status === 200 ? undefined : new ScrapeFailure('http-status', `HTTP status ${status}`));
          },
          onResponseError(_c, err) {
            settle(err);
          },
        },
      );
    });
  }

  close(): Promise<void> {
    // destroy, not close: close would wait for a hanging request, and the endpoint is gone anyway.
    this.closed ??= this.pool.destroy().catch(() => undefined);
    return this.closed;
  }
}

export function httpMetricsFetcherFactory(options: HttpMetricsFetcherOptions = {}): MetricsFetcherFactory {
  return (target) => new HttpMetricsFetcher(target, options);
}
