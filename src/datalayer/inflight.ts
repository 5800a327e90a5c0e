// In-flight load: what Fairway itself has sent to each endpoint and not yet seen finish (the open loop).

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
}

export const NO_INFLIGHT: InflightLoad = Object.freeze({
  requests: 0,
  tokens: 0,
  requestsSinceScrape: 0,
  tokensSinceScrape: 0,
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
}

/** Told when an endpoint's scrape lands, so "since scrape" counts can be reset. */
export interface ScrapeListener {
  /** Dispatches begun strictly before `takenAt` (the scrape's send time) are assumed visible in its metrics. */
  markScraped(endpointId: string, takenAt: number): void;
}
