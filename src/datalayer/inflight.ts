// In-flight load: what Fairway itself has sent to each endpoint and not yet seen finish (the open loop).
import { type ScrapeFailureReason } from './scrape-failure.js';

/** Fairway's own count of outstanding work on one endpoint. */
export interface InflightLoad {
  /** Requests sent and not yet finished. */
  readonly requests: number;
  /** Estimated tokens (prompt + expected output) of those requests. */
  readonly tokens: number;
  /**
   * Of those, the ones dispatched after the endpoint's last good scrape: work the scraped metrics
   * cannot have seen yet, so detectors and scorers must add it on top of the metrics.
   */
  readonly requestsSinceScrape: number;
  readonly tokensSinceScrape: number;
  /**
   * Requests the endpoint's last scrape saw (begun before its send time) that have finished since that scrape
   * landed: the scraped metrics still count them, though the server has already freed their slot and KV
   * blocks. Reset when the next scrape lands. Work begun after the last scrape never counts here: its end
   * only removes it from `requestsSinceScrape`.
   * Optional so that hand-built loads (fakes, benchmarks) stay valid; absent reads as 0, i.e. no credit
   * for finished work, which is the conservative reading.
   */
  readonly requestsEndedSinceScrape?: number;
  /** Estimated tokens of `requestsEndedSinceScrape`. Absent reads as 0. */
  readonly tokensEndedSinceScrape?: number;
  /**
   * Prompt tokens of streamed requests sent and not yet started: no response byte seen (the first token), so the
   * server still has their prefill to do, queued or in chunks. Released exactly once, on the first byte, the
   * end, an eviction or an error. Non-streamed requests are not counted: their first byte is their last.
   * Absent reads as 0.
   */
  readonly unstartedTokens?: number;
}

export const NO_INFLIGHT: InflightLoad = Object.freeze({
  requests: 0,
  tokens: 0,
  requestsSinceScrape: 0,
  tokensSinceScrape: 0,
  requestsEndedSinceScrape: 0,
  tokensEndedSinceScrape: 0,
  unstartedTokens: 0,
});

/** Read side of the in-flight tracker, for saturation detectors and scorers. O(1) per lookup. */
export interface InflightView {
  load(endpointId: string): InflightLoad;
}

/**
 * An InflightView that also says when it changed, so consumers can cache derived values:
 * `version` increases on every change; `onRelease` fires when load dropped (work finished).
 */
export interface InflightFeed extends InflightView {
  readonly version: number;
  /** Called after load on an endpoint dropped (a ticket ended); returns the unsubscribe function. */
  onRelease(listener: (endpointId: string) => void): () => void;
  /**
   * Called with the endpoint whose load changed, once for each increase of `version` (any change: a dispatch, an
   * end, a first byte, a scrape mark), so a consumer that keeps per-endpoint results redoes only that endpoint's.
   * Versions that rose without a call (a feed that also counts changes it cannot place, such as other replicas'
   * loads) tell the consumer to read every endpoint again. Optional: without it, every version change does.
   * Returns the unsubscribe function.
   */
  onLoadChange?(listener: (endpointId: string) => void): () => void;
}

/** Told when an endpoint's scrape lands, so "since scrape" counts can be reset. */
export interface ScrapeListener {
  /**
   * Dispatches begun strictly before `takenAt` (the scrape's send time) are assumed visible in its metrics.
   * The finished-work credit (`requestsEndedSinceScrape`) is reset: the new metrics reflect ends before
   * `takenAt`; an end while the scrape was in flight is dropped too (counted as still running, the safe error).
   */
  markScraped(endpointId: string, takenAt: number): void;
  /** The endpoint left the pool: drop whatever is kept for it that no ticket still needs. */
  forget?(endpointId: string): void;
  /**
   * A scrape failed: `unreachable` when the endpoint could not be talked to (refused, reset, no connection within
   * the timeout), false when it answered badly or slowly (a connection accepted, the page late), or not at all
   * (`silent`). `reason` is the error, for logs; `cause` its class when known (`silent`: connected, not one byte
   * back within the timeout, nor of an earlier late answer; `slow`: connected, the answer late).
   */
  scrapeFailed?(endpointId: string, unreachable: boolean, reason: string, cause?: ScrapeFailureReason): void;
}
