// `concurrency` detector: Fairway's own in-flight count per endpoint against a configured capacity
// (open loop only; needs no metrics, so it also works when scraping is impossible).
import { InvalidArgumentError, requirePositive } from '../core/index.js';
import { type EndpointSnapshot, type InflightFeed } from '../datalayer/index.js';
import { type Aggregation } from './aggregation.js';
import { CachedSaturationDetector, type DetectorDeps, type DetectorSettings, type ScoreNotes } from './cached-detector.js';
import { resolveAggregation } from './options.js';

/** @default 100 requests per endpoint, as the Go reference. */
export const DEFAULT_MAX_REQUESTS = 100;
/** @default 1,000,000 estimated tokens per endpoint, as the Go reference. */
export const DEFAULT_MAX_TOKENS = 1_000_000;

export type ConcurrencyMode = 'requests' | 'tokens' | 'both';
export const CONCURRENCY_MODES: readonly ConcurrencyMode[] = ['requests', 'tokens', 'both'];

export interface ConcurrencyOptions {
  /** @default DEFAULT_MAX_REQUESTS */
  readonly maxRequests?: number;
  /** @default DEFAULT_MAX_TOKENS */
  readonly maxTokens?: number;
  /** Which limit(s) apply; `both` takes the larger ratio. @default 'requests' */
  readonly mode?: ConcurrencyMode;
  /** @default 'headroom' */
  readonly aggregation?: Aggregation;
}

export class ConcurrencyDetector extends CachedSaturationDetector {
  readonly maxRequests: number;
  readonly maxTokens: number;
  readonly mode: ConcurrencyMode;
  private readonly aggregationMode: Aggregation;
  private readonly inflight: InflightFeed;

  constructor(deps: DetectorDeps, options: ConcurrencyOptions = {}) {
    super('concurrency', deps, resolveAggregation(options.aggregation));
    if (deps.inflight === undefined) {
      throw new InvalidArgumentError('deps.inflight', undefined, 'an InflightFeed (the concurrency detector counts it)');
    }
    this.inflight = deps.inflight;
    this.maxRequests = requirePositive('maxRequests', options.maxRequests ?? DEFAULT_MAX_REQUESTS);
    this.maxTokens = requirePositive('maxTokens', options.maxTokens ?? DEFAULT_MAX_TOKENS);
    const mode = options.mode ?? 'requests';
    if (!CONCURRENCY_MODES.includes(mode)) {
      throw new InvalidArgumentError('mode', mode, `one of ${CONCURRENCY_MODES.join(', ')}`);
    }
    this.mode = mode;
    this.aggregationMode = resolveAggregation(options.aggregation);
  }

  settings(): DetectorSettings {
    return { maxRequests: this.maxRequests, maxTokens: this.maxTokens, mode: this.mode, aggregation: this.aggregationMode };
  }

  protected scoreEndpoint(endpoint: EndpointSnapshot, _now: number, _notes: ScoreNotes): number {
    const load = this.inflight.load(endpoint.id);
    const requests = load.requests / this.maxRequests;
    const tokens = load.tokens / this.maxTokens;
    switch (this.mode) {
      case 'requests':
        return requests;
      case 'tokens':
        return tokens;
      case 'both':
        return Math.max(requests, tokens);
    }
  }
}
