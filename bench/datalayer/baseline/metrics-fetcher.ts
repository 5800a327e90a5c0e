// Frozen copy of this file from src/datalayer at 618991f (before issue 14), kept so bench/datalayer can measure
// the old scraper beside the new one in the same run. Not used by Fairway itself.
// Metrics fetcher port and its HTTP implementation: one keep-alive undici Pool per endpoint, so removing an
// endpoint closes exactly its socket and nothing else.
import { Pool } from 'undici';
import { FairwayError, requirePositive } from '../../../src/core/index.js';
import { endpointId } from '../../../src/datalayer/endpoint.js';

export interface MetricsTarget {
  readonly host: string;
  readonly port: number;
  /** Request path, e.g. `/metrics`. */
  readonly path: string;
}

/** Fetches one endpoint's metrics page. One instance per endpoint; the scraper never overlaps calls. */
export interface MetricsFetcher {
  /** Resolves to the page text; rejects on network error, non-200 status, oversize body or abort. */
  fetch(signal: AbortSignal): Promise<string>;
  /** Releases connections; idempotent. */
  close(): Promise<void>;
}

export type MetricsFetcherFactory = (target: MetricsTarget) => MetricsFetcher;

/** Raised for a response that is not a usable metrics page. */
export class ScrapeHttpError extends FairwayError {
  constructor(message: string) {
    super('ERR_SCRAPE_HTTP', message);
  }
}

/** @default 4 MiB: a vLLM page is ~50-150 KB; anything far larger is a misconfigured path, not metrics. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** @default 30 s: far above the scrape interval, so the connection is reused between scrapes. */
export const DEFAULT_KEEP_ALIVE_MS = 30_000;

export interface HttpMetricsFetcherOptions {
  /** @default DEFAULT_MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
  /** @default DEFAULT_KEEP_ALIVE_MS */
  readonly keepAliveMs?: number;
}

export class HttpMetricsFetcher implements MetricsFetcher {
  private readonly pool: Pool;
  private readonly maxBodyBytes: number;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly target: MetricsTarget,
    options: HttpMetricsFetcherOptions = {},
  ) {
    this.maxBodyBytes = requirePositive('maxBodyBytes', options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    const keepAlive = requirePositive('keepAliveMs', options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS);
    // One connection, no pipelining: scrapes never overlap, and a second socket would only be a leak risk.
    // Timeouts live in the scraper (through the injected Clock); undici's own are a generous backstop.
    this.pool = new Pool(`http://${endpointId(target.host, target.port)}`, {
      connections: 1,
      pipelining: 1,
      keepAliveTimeout: keepAlive,
      keepAliveMaxTimeout: keepAlive,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
  }

  async fetch(signal: AbortSignal): Promise<string> {
    const { statusCode, body } = await this.pool.request({
      path: this.target.path,
      method: 'GET',
      signal,
      headers: { accept: 'text/plain;version=0.0.4' },
    });
    // An abort or destroy after the headers errors the body stream; the rejection below already reports it.
    body.on('error', () => undefined);
    if (statusCode !== 200) {
      // Drain (bounded) rather than destroy, so the keep-alive connection survives an error page.
      await body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      throw new ScrapeHttpError(`HTTP status ${statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body as AsyncIterable<unknown>) {
      if (!Buffer.isBuffer(chunk)) continue;
      size += chunk.length;
      if (size > this.maxBodyBytes) {
        body.destroy();
        throw new ScrapeHttpError(`metrics page larger than ${this.maxBodyBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size).toString('utf8');
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
