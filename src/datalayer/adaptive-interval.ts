// Adaptive scrape interval (opt-in): per endpoint, scrape faster while the server is near saturation, where the
// gate's decisions depend on fresh numbers, and slower while it is idle, where they do not; always within the
// configured bounds. Failing endpoints are not its business: their backoff takes over.
import { InvalidArgumentError, requirePositive } from '../core/index.js';
import { type EndpointMetrics } from './endpoint.js';

export interface AdaptiveIntervalOptions {
  /** Interval while the server is near saturation (<= the base interval). */
  readonly minIntervalMs: number;
  /** Longest interval, reached after several idle scrapes (>= the base interval, below the staleness limit). */
  readonly maxIntervalMs: number;
  /** KV-cache usage (0-1) from which a server counts as near saturation. @default DEFAULT_KV_NEAR_FULL */
  readonly kvNearFull?: number;
}

/** @default 0.8: the KV usage at which the Go EPP's detector starts to count a server saturated. */
export const DEFAULT_KV_NEAR_FULL = 0.8;
/** Each idle scrape stretches the interval by this factor, up to the maximum: idleness is believed gradually. */
const IDLE_GROWTH = 1.5;

/** Checks the bounds against the base interval; throws InvalidArgumentError when they cannot hold. */
export function validateAdaptiveInterval(options: AdaptiveIntervalOptions, baseIntervalMs: number): void {
  requirePositive('minIntervalMs', options.minIntervalMs);
  requirePositive('maxIntervalMs', options.maxIntervalMs);
  if (options.minIntervalMs > baseIntervalMs) {
    throw new InvalidArgumentError('minIntervalMs', options.minIntervalMs, `at most the scrape interval (${baseIntervalMs} ms)`);
  }
  if (options.maxIntervalMs < baseIntervalMs) {
    throw new InvalidArgumentError('maxIntervalMs', options.maxIntervalMs, `at least the scrape interval (${baseIntervalMs} ms)`);
  }
  const kv = options.kvNearFull ?? DEFAULT_KV_NEAR_FULL;
  if (!(kv > 0 && kv <= 1)) throw new InvalidArgumentError('kvNearFull', kv, 'a fraction in (0, 1]');
}

/**
 * One per endpoint. After each good scrape: near saturation (requests waiting, or the KV cache at
 * `kvNearFull`) the next scrape comes after `minIntervalMs`, at once; idle (nothing running or waiting) the
 * interval grows by half per idle scrape up to `maxIntervalMs`; in between, the base interval. O(1).
 */
export class AdaptiveInterval {
  private current: number;
  private readonly kvNearFull: number;

  constructor(
    private readonly baseIntervalMs: number,
    private readonly options: AdaptiveIntervalOptions,
  ) {
    validateAdaptiveInterval(options, baseIntervalMs);
    this.kvNearFull = options.kvNearFull ?? DEFAULT_KV_NEAR_FULL;
    this.current = baseIntervalMs;
  }

  /** The interval to the next scrape after a good one that read `metrics`. */
  next(metrics: EndpointMetrics): number {
    if (metrics.waitingQueue > 0 || metrics.kvCacheUsage >= this.kvNearFull) {
      this.current = this.options.minIntervalMs;
    } else if (metrics.runningRequests === 0) {
      this.current = Math.min(this.options.maxIntervalMs, Math.max(this.baseIntervalMs, this.current * IDLE_GROWTH));
    } else {
      this.current = this.baseIntervalMs;
    }
    return this.current;
  }

  /** After a failure: start again from the base interval. */
  reset(): void {
    this.current = this.baseIntervalMs;
  }
}
