// `hybrid` detector (the default): scraped metrics (closed loop) plus what Fairway dispatched to each endpoint
// since that endpoint's last scrape (open loop), so a burst between two scrapes cannot all pass through the
// same apparent headroom (the herding llm-d users report), minus the work that finished since that scrape, so
// the gate reopens as soon as capacity frees instead of up to a scrape interval later; and, once each server's
// batch slots are known, releasing work only when a server can start it.
import { InvalidArgumentError } from '../core/index.js';
import { type EndpointMetrics, type EndpointSnapshot, type InflightFeed } from '../datalayer/index.js';
import { CachedSaturationDetector, type DetectorDeps, type DetectorSettings, type ScoreNotes } from './cached-detector.js';
import { rooflineScore } from './endpoint-score.js';
import { type BatchReading, SlotLimitLearner } from './slot-limit.js';
import {
  type ResolvedThresholds,
  type UtilizationThresholds,
  nonNegative,
  optionalPositive,
  resolveThresholds,
} from './options.js';

/**
 * @default 0.9, not the Go reference's 0.8 (kept by `utilization`): this detector counts every dispatch the scrape
 * has not seen at prompt + max_tokens, the most it can ever hold, and its slot limit keeps requests out of the
 * servers' queues, so the headroom left for decode growth is already in the figure. In the KV-bound scenarios
 * 0.8 gave up 6% of the pool's throughput for no preemption avoided (0 at 0.8, 1 at 0.9 over a 20 s flood;
 * 546 without flow control).
 */
export const DEFAULT_HYBRID_KV_THRESHOLD = 0.9;
/** @default 1: each unseen dispatch counts as one more waiting request until a scrape shows where it went. */
export const DEFAULT_UNSEEN_REQUEST_WEIGHT = 1;
/** @default 1: each unseen estimated token counts as one KV token (needs the server's cache geometry). */
export const DEFAULT_UNSEEN_TOKEN_WEIGHT = 1;
/** @default 1: each request in the server's queue counts as one request of Fairway's mean estimate there. */
export const DEFAULT_QUEUED_TOKEN_WEIGHT = 1;
/**
 * @default 2,048: the step token budget of the `ci` simulator profile and a common `--max-num-batched-tokens`;
 * vLLM's own default depends on its version and the GPU, so operators should state their servers' value.
 */
export const DEFAULT_MAX_NUM_BATCHED_TOKENS = 2_048;
/**
 * The share of the step budget an endpoint's unstarted prompts may reach before it stops taking paced work. The
 * check comes before the dispatch, so with prompts up to half a step the backlog after it stays within about one
 * step, and the next step still has room for another tenant's prompt beside the decodes. In the noisy-tenant
 * scenario (1,024-token prompts, 2,048-token steps) pacing at the whole budget left tenant B at 3.06x its solo TTFT
 * p99 (three quarters: 3.02x), at half 2.31x, for 0.973 -> 0.965 of the pool's served tokens.
 */
export const PACED_STEP_SHARE = 0.5;
/** @default 1: each scraped request that finished since the scrape frees one slot and its estimated tokens. */
export const DEFAULT_FINISHED_REQUEST_CREDIT = 1;

export interface HybridOptions extends UtilizationThresholds {
  /** Waiting-queue requests added per request dispatched since the last scrape. @default 1 */
  readonly unseenRequestWeight?: number;
  /**
   * KV tokens added per estimated token dispatched since the last scrape, as a share of the server's KV
   * capacity (`kvBlockSize x kvNumBlocks` from cache_config_info; ignored when unknown). @default 1
   */
  readonly unseenTokenWeight?: number;
  /**
   * KV tokens added per request in the server's waiting queue (after the finished-work credit), as a multiple of
   * the mean estimated tokens of Fairway's requests in flight on that server: queued requests hold no KV blocks
   * yet, so the scraped KV usage leaves them out, though each needs its blocks to start. Without this term a
   * KV-bound server reads as having room while requests wait in its queue for blocks. 0 leaves them out.
   * @default 1
   */
  readonly queuedTokenWeight?: number;
  /**
   * Credit for work the last scrape counted that has finished since: each such request takes this many
   * requests off the scraped waiting queue and this many times its estimated tokens off the scraped KV usage
   * (each floored at 0). 0 ignores finished work until the next scrape (the behaviour before this option).
   * @default 1
   */
  readonly finishedRequestCredit?: number;
  /** Optional hard cap on Fairway's total in-flight requests per endpoint. @default undefined (none) */
  readonly maxRequests?: number;
  /** Optional hard cap on Fairway's total in-flight estimated tokens per endpoint. @default undefined (none) */
  readonly maxTokens?: number;
  /**
   * Requests each server can run at once (vLLM `max_num_seqs`). When known, an endpoint counts as full once its
   * running and waiting requests (scraped, minus finished, plus dispatched since) reach it, so work waits in
   * Fairway, where fairness and priority apply, instead of in the server's FCFS queue. @default learned from
   * the scrapes (slot-limit.ts) unless `learnSlotLimit` is false
   */
  readonly slotLimit?: number;
  /** Learn each server's slot limit from its scrapes when `slotLimit` is not given. @default true */
  readonly learnSlotLimit?: boolean;
  /**
   * The servers' step token budget (vLLM `--max-num-batched-tokens`). Sets the paced score: an endpoint whose
   * unstarted prompt tokens (streamed requests sent, first byte not seen) reach half of it (`PACED_STEP_SHARE`)
   * has enough prefill queued that one more prompt there would fill its next step with prefill chunks. Flow control holds a tenant
   * above its share of its band while no endpoint is below it (`pacedSaturation`), and the scheduler's headroom
   * filter prefers endpoints below it. 0 turns pacing off. @default 2,048
   */
  readonly maxNumBatchedTokens?: number;
}

/**
 * Per endpoint, with c = finishedRequestCredit and capacity = blockSize x numBlocks:
 *   waiting' = max(0, waiting - c x requestsEndedSinceScrape) + unseenRequestWeight x requestsSinceScrape
 *   queued   = max(0, waiting - c x requestsEndedSinceScrape)
 *   kv'      = max(0, kvUsage - c x tokensEndedSinceScrape / capacity) + unseenTokenWeight x tokensSinceScrape / capacity
 *              + queuedTokenWeight x queued x (inflight tokens / inflight requests) / capacity
 *   held'    = max(0, running + waiting - c x requestsEndedSinceScrape) + unseenRequestWeight x requestsSinceScrape
 *   score    = max(waiting' / queueThreshold, kv' / kvThreshold[, held' / slotLimit, requests / maxRequests,
 *              tokens / maxTokens])
 *   paced    = max(score, unstartedTokens / (PACED_STEP_SHARE x maxNumBatchedTokens))   (score when it is 0)
 * where slotLimit is configured or learned (slot-limit.ts) and the term is left out while it is unknown.
 * When the endpoint's scrape lands, the tracker drops the dispatches it saw and the finished-work credit, so
 * nothing is counted twice for long. Between scrapes each dispatch raises the score and each finished
 * request the scrape had counted lowers it, so at most ceil(queueThreshold - max(0, waiting - c x ended))
 * requests (with the default weights) pass through one endpoint's headroom. Stale or missing metrics score 1.0.
 */
export class HybridDetector extends CachedSaturationDetector {
  readonly thresholds: ResolvedThresholds;
  readonly unseenRequestWeight: number;
  readonly unseenTokenWeight: number;
  readonly queuedTokenWeight: number;
  readonly finishedRequestCredit: number;
  readonly maxRequests: number | undefined;
  readonly maxTokens: number | undefined;
  readonly slotLimit: number | undefined;
  readonly maxNumBatchedTokens: number;
  private readonly inflight: InflightFeed;
  private readonly slots: SlotLimitLearner | undefined;
  private readonly reading: { -readonly [K in keyof BatchReading]: BatchReading[K] } = { scrapedAt: 0, running: 0, waiting: 0, kvUsage: 0 };

  constructor(deps: DetectorDeps, options: HybridOptions = {}) {
    const thresholds = resolveThresholds({ ...options, kvThreshold: options.kvThreshold ?? DEFAULT_HYBRID_KV_THRESHOLD }, deps.stalenessMs);
    super('hybrid', deps, thresholds.aggregation);
    if (deps.inflight === undefined) {
      throw new InvalidArgumentError('deps.inflight', undefined, 'an InflightFeed (the hybrid detector counts it)');
    }
    this.inflight = deps.inflight;
    this.thresholds = thresholds;
    this.unseenRequestWeight = nonNegative('unseenRequestWeight', options.unseenRequestWeight ?? DEFAULT_UNSEEN_REQUEST_WEIGHT);
    this.unseenTokenWeight = nonNegative('unseenTokenWeight', options.unseenTokenWeight ?? DEFAULT_UNSEEN_TOKEN_WEIGHT);
    this.queuedTokenWeight = nonNegative('queuedTokenWeight', options.queuedTokenWeight ?? DEFAULT_QUEUED_TOKEN_WEIGHT);
    this.finishedRequestCredit = nonNegative(
      'finishedRequestCredit',
      options.finishedRequestCredit ?? DEFAULT_FINISHED_REQUEST_CREDIT,
    );
    this.maxRequests = optionalPositive('maxRequests', options.maxRequests);
    this.maxTokens = optionalPositive('maxTokens', options.maxTokens);
    this.slotLimit = optionalPositive('slotLimit', options.slotLimit);
    this.maxNumBatchedTokens = nonNegative('maxNumBatchedTokens', options.maxNumBatchedTokens ?? DEFAULT_MAX_NUM_BATCHED_TOKENS);
    this.slots = this.slotLimit === undefined && options.learnSlotLimit !== false ? new SlotLimitLearner(thresholds.kvThreshold) : undefined;
  }

  /** The slot limit in force for an endpoint: configured, learned, or undefined (unknown: the term is off). */
  slotLimitOf(endpointId: string): number | undefined {
    return this.slotLimit ?? this.slots?.limitOf(endpointId);
  }

  settings(): DetectorSettings {
    return {
      ...this.thresholds,
      unseenRequestWeight: this.unseenRequestWeight,
      unseenTokenWeight: this.unseenTokenWeight,
      queuedTokenWeight: this.queuedTokenWeight,
      finishedRequestCredit: this.finishedRequestCredit,
      ...(this.maxRequests !== undefined ? { maxRequests: this.maxRequests } : {}),
      ...(this.maxTokens !== undefined ? { maxTokens: this.maxTokens } : {}),
      slotLimit: this.slotLimit ?? (this.slots !== undefined ? 'learned' : 'off'),
      maxNumBatchedTokens: this.maxNumBatchedTokens,
    };
  }

  protected scoreEndpoint(endpoint: EndpointSnapshot, now: number, notes: ScoreNotes): number {
    const { queueThreshold, kvThreshold, stalenessMs } = this.thresholds;
    const metrics = this.freshOrNoteStale(endpoint, now, stalenessMs, notes);
    if (metrics === undefined) return 1;
    const load = this.inflight.load(endpoint.id);
    const credit = this.finishedRequestCredit;
    // A finished request the scrape counted freed its running slot, so the server admitted one of its waiting
    // requests (if any): the scraped queue is one shorter. Floored at 0 before the open loop is added: once the
    // scraped queue is drained a freed slot admits no scraped request, and if unseen work takes it, that work
    // still counts as waiting here (the safe error). The caps below need no credit: Fairway's own totals drop
    // at once on end().
    const queued = Math.max(0, metrics.waitingQueue - credit * (load.requestsEndedSinceScrape ?? 0));
    const waiting = queued + this.unseenRequestWeight * load.requestsSinceScrape;
    let kv = metrics.kvCacheUsage;
    const { kvBlockSize, kvNumBlocks } = metrics;
    if (kvBlockSize !== undefined && kvNumBlocks !== undefined && kvBlockSize * kvNumBlocks > 0) {
      const capacity = kvBlockSize * kvNumBlocks;
      // Freed KV blocks, by the token estimate: optimistic when the request stopped short of its expected
      // output, held fewer blocks at scrape time (mid-generation), or shared prefix blocks that stay cached;
      // the next scrape corrects it, and the waiting-queue term is unaffected.
      kv = Math.max(0, kv - (credit * (load.tokensEndedSinceScrape ?? 0)) / capacity);
      kv += (this.unseenTokenWeight * load.tokensSinceScrape) / capacity;
      // Requests in the server's queue hold no KV yet but need it to start: at the mean estimate of what Fairway
      // has in flight there (the scrape does not say whose they are).
      if (load.requests > 0) kv += (this.queuedTokenWeight * queued * (load.tokens / load.requests)) / capacity;
    }
    let score = rooflineScore(waiting, kv, queueThreshold, kvThreshold);
    const slots = this.slotLimit ?? this.learnSlots(endpoint, metrics);
    if (slots !== undefined) {
      // Everything the server holds now (running and queued at the scrape, less what finished, plus what was
      // sent since) against what it can run: below 1.0 the next request starts at once.
      const held =
        Math.max(0, metrics.runningRequests + metrics.waitingQueue - credit * (load.requestsEndedSinceScrape ?? 0)) +
        this.unseenRequestWeight * load.requestsSinceScrape;
      score = Math.max(score, held / slots);
    }
    if (this.maxRequests !== undefined) score = Math.max(score, load.requests / this.maxRequests);
    if (this.maxTokens !== undefined) score = Math.max(score, load.tokens / this.maxTokens);
    const budget = this.maxNumBatchedTokens * PACED_STEP_SHARE;
    notes.paced = budget > 0 ? Math.max(score, (load.unstartedTokens ?? 0) / budget) : score;
    return score;
  }

  private learnSlots(endpoint: EndpointSnapshot, metrics: EndpointMetrics): number | undefined {
    const slots = this.slots;
    if (slots === undefined || endpoint.scrapedAt === undefined) return undefined;
    if (slots.size > 2 * this.deps.pool.current().endpoints.length + 16) {
      const live = new Set(this.deps.pool.current().endpoints.map((e) => e.id));
      slots.retain((id) => live.has(id));
    }
    // One reading object, refilled: the learner copies what it keeps (a literal here was one more allocation per
    // rescored endpoint, ~20,000 a second at 1,000 endpoints).
    const reading = this.reading;
    reading.scrapedAt = endpoint.scrapedAt;
    reading.running = metrics.runningRequests;
    reading.waiting = metrics.waitingQueue;
    reading.kvUsage = metrics.kvCacheUsage;
    return slots.observe(endpoint.id, reading);
  }
}
