// Why a scrape failed, as a small closed set: the label on the failure counter, the reason in the log line and
// the endpoint's snapshot, and the signal "is the pool reachable at all" is derived from.
import { FairwayError, isConnectError, isUnreachableError } from '../core/index.js';

export type ScrapeFailureReason =
  /** Connecting failed (refused, no route, DNS): nothing listens there. */
  | 'connect'
  /** No connection within the scrape timeout (nothing answers the SYN, or the handshake never completes). */
  | 'timeout'
  /**
   * Connected, but no complete answer within the scrape timeout (a slow or dribbling /metrics page), though bytes
   * of it came in time, or of an earlier answer that came late: the metrics are late, the pod is there. Not
   * unreachable: a pod whose metrics page is slow may serve inference well.
   */
  | 'slow'
  /**
   * Connected, and not one byte within the scrape timeout, nor of an earlier late answer since the last scrape: a
   * frozen or hung pod the kernel still accepts connections for (or a page slower than the timeout and the wait
   * for the next scrape). Counts toward `pool.unresponsiveAfterMs`; 'slow' does not.
   */
  | 'silent'
  /** The connection was reset or cut mid-answer. */
  | 'reset'
  /** TLS handshake or certificate verification failed. */
  | 'tls'
  /** An answer other than 200. */
  | 'http-status'
  /** Not HTTP at all, or malformed HTTP. */
  | 'bad-http'
  /** The body is larger than the configured limit. */
  | 'too-large'
  /** A content type that is not a Prometheus text page, or a metric declared with a type we cannot read. */
  | 'wrong-type'
  /** Lines that are not Prometheus text where the metrics in use should be. */
  | 'garbage'
  /** The page parses but a metric in use is absent. */
  | 'missing-metric'
  /** A metric in use has a value that cannot be right (NaN, negative, infinite). */
  | 'invalid-value'
  /** Anything else (kept so no failure goes uncounted). */
  | 'other';

export const SCRAPE_FAILURE_REASONS: readonly ScrapeFailureReason[] = [
  'connect',
  'timeout',
  'slow',
  'silent',
  'reset',
  'tls',
  'http-status',
  'bad-http',
  'too-large',
  'wrong-type',
  'garbage',
  'missing-metric',
  'invalid-value',
  'other',
];

/**
 * Reasons that say the server could not be talked to, as opposed to one that answered, only badly (a TLS
 * handshake that fails is an answer) or slowly (a connection accepted, the page late: 'slow'). A pool whose
 * every endpoint fails for one of these is unreachable from here (network, DNS, all pods down).
 */
const UNREACHABLE: ReadonlySet<ScrapeFailureReason> = new Set(['connect', 'timeout', 'reset']);

export function isUnreachableReason(reason: ScrapeFailureReason): boolean {
  return UNREACHABLE.has(reason);
}

/** A scrape failure with its reason; `message` has the detail for the log line. */
export class ScrapeFailure extends FairwayError {
  /** The answer's status, for 'http-status'. */
  readonly status: number | undefined;

  constructor(
    readonly reason: ScrapeFailureReason,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super('ERR_SCRAPE', message, options);
    this.status = options?.status;
  }
}

/** Certificate and handshake error codes from Node's TLS layer (OpenSSL names). */
const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|EPROTO|HOSTNAME|ALTNAME/;

/**
 * The scrape timeout fired after the connection was made: the server is there, its page is late ('slow', not
 * the unreachable 'timeout'), or it has sent nothing at all (`heard` false: 'silent'). Other failures pass through.
 */
export function timeoutWhileConnected(err: Error, heard = true): Error {
  if (!(err instanceof ScrapeFailure) || err.reason !== 'timeout') return err;
  if (!heard) return new ScrapeFailure('silent', `${err.message} (connected: not a byte came back)`, { cause: err });
  return new ScrapeFailure('slow', `${err.message} (connected: the metrics page is slow)`, { cause: err });
}

/** Maps a socket error (or anything else a fetch ran into) to a ScrapeFailure, keeping the original as the cause. */
export function toScrapeFailure(err: unknown): ScrapeFailure {
  if (err instanceof ScrapeFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : '';
  const detail = code === '' ? message : `${code}: ${message}`;
  let reason: ScrapeFailureReason = 'other';
  // Socket errors only: timeouts, HTTP errors and bad pages come from the fetcher as ScrapeFailures already.
  if (TLS_CODES.test(code)) reason = 'tls';
  else if (isConnectError(err)) reason = 'connect';
  else if (isUnreachableError(err)) reason = 'reset';
  return new ScrapeFailure(reason, detail, { cause: err });
}
