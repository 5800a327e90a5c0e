// `hybrid` detector (the default): scraped metrics (closed loop) plus what Fairway dispatched to each endpoint
// since that endpoint's last scrape (open loop), so a burst between two scrapes cannot all pass through the
// same apparent headroom (the herding llm-d users report).
import { InvalidArgumentError } from '../core/index.js';
import { type EndpointSnapshot, type InflightFeed } from '../datalayer/index.js';
import { CachedSaturationDetector, type DetectorDeps, type ScoreNotes } from './cached-detector.js';
import { rooflineScore } from './endpoint-score.js';
import {
  type ResolvedThresholds,
  type UtilizationThresholds,
  nonNegative,
  optionalPositive,
  resolveThresholds,
} from './options.js';

/** @default 1: each unseen dispatch counts as one more waiting request until a scrape shows where it went. */
export const DEFAULT_UNSEEN_REQUEST_WEIGHT = 1;
/** @default 1: each unseen estimated token counts as one KV token (needs the server's cache geometry). */
export const DEFAULT_UNSEEN_TOKEN_WEIGHT = 1;

export interface HybridOptions extends UtilizationThresholds {
  /** Waiting-queue requests added per request dispatched since the last scrape. @default 1 */
  readonly unseenRequestWeight?: number;
  /**
   * KV tokens added per estimated token dispatched since the last scrape, as a share of the server's KV
   * capacity (`kvBlockSize x kvNumBlocks` from cache_config_info; ignored when unknown). @default 1
   */
  readonly unseenTokenWeight?: number;
  /** Optional hard cap on Fairway's total in-flight requests per endpoint. @default undefined (none) */
  readonly maxRequests?: number;
  /** Optional hard cap on Fairway's total in-flight estimated tokens per endpoint. @default undefined (none) */
  readonly maxTokens?: number;
}

/**
 * Per endpoint:
 *   waiting' = waiting + unseenRequestWeight x requestsSinceScrape
 *   kv'      = kvUsage + unseenTokenWeight x tokensSinceScrape / (blockSize x numBlocks)
 *   score    = max(waiting' / queueThreshold, kv' / kvThreshold[, requests / maxRequests, tokens / maxTokens])
 * When the endpoint's scrape lands, the tracker drops the dispatches it saw, so nothing is counted twice for
 * long. Between scrapes each dispatch raises the score, so at most ceil(queueThreshold - waiting) requests
 * (with the default weight) pass through one endpoint's headroom. Stale or missing metrics score 1.0.
 */
export class HybridDetector extends CachedSaturationDetector {
  readonly thresholds: ResolvedThresholds;
  readonly unseenRequestWeight: number;
  readonly unseenTokenWeight: number;
  readonly maxRequests: number | undefined;
  readonly maxTokens: number | undefined;
  private readonly inflight: InflightFeed;

  constructor(deps: DetectorDeps, options: HybridOptions = {}) {
    const thresholds = resolveThresholds(options);
    super('hybrid', deps, thresholds.aggregation);
    if (deps.inflight === undefined) {
      throw new InvalidArgumentError('deps.inflight', undefined, 'an InflightFeed (the hybrid detector counts it)');
    }
    this.inflight = deps.inflight;
    this.thresholds = thresholds;
    this.unseenRequestWeight = nonNegative('unseenRequestWeight', options.unseenRequestWeight ?? DEFAULT_UNSEEN_REQUEST_WEIGHT);
    this.unseenTokenWeight = nonNegative('unseenTokenWeight', options.unseenTokenWeight ?? DEFAULT_UNSEEN_TOKEN_WEIGHT);
    this.maxRequests = optionalPositive('maxRequests', options.maxRequests);
    this.maxTokens = optionalPositive('maxTokens', options.maxTokens);
  }

  protected scoreEndpoint(endpoint: EndpointSnapshot, now: number, notes: ScoreNotes): number {
    const { queueThreshold, kvThreshold, stalenessMs } = this.thresholds;
    const metrics = this.freshOrNoteStale(endpoint, now, stalenessMs, notes);
    if (metrics === undefined) return 1;
    const load = this.inflight.load(endpoint.id);
    const waiting = metrics.waitingQueue + this.unseenRequestWeight * load.requestsSinceScrape;
    let kv = metrics.kvCacheUsage;
    const { kvBlockSize, kvNumBlocks } = metrics;
    if (kvBlockSize !== undefined && kvNumBlocks !== undefined && kvBlockSize * kvNumBlocks > 0) {
      kv += (this.unseenTokenWeight * load.tokensSinceScrape) / (kvBlockSize * kvNumBlocks);
    }
    let score = rooflineScore(waiting, kv, queueThreshold, kvThreshold);
    if (this.maxRequests !== undefined) score = Math.max(score, load.requests / this.maxRequests);
    if (this.maxTokens !== undefined) score = Math.max(score, load.tokens / this.maxTokens);
    return score;
  }
}
