// No-hit LRU scorer (llm-d's `no-hit-lru-scorer`): a request whose prompt no candidate holds a prefix of (a cold
// request) creates new KV blocks wherever it goes, so cold requests are spread over the pool in least-recently-used
// order (endpoints that never took one first), which evens out cache growth. A warm request scores every candidate
// alike, leaving the choice to the prefix-cache scorer.
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';

export const NO_HIT_LRU_SCORER = 'no-hit-lru-scorer';
/** llm-d's default: endpoints remembered. */
export const DEFAULT_NO_HIT_LRU_SIZE = 1024;
/** What a warm request scores on every candidate, as in llm-d. */
const NEUTRAL = 0.5;

export interface NoHitLruOptions {
  /** Endpoints whose last cold pick is remembered (the least recent is forgotten first). @default 1024 */
  readonly lruSize?: number;
}

/** True when the prompt is shorter than one block or no candidate holds any of its blocks. O(candidates). */
function isCold(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[]): boolean {
  const hashes = ctx.request.prefixHashes;
  if (hashes === undefined || hashes.length === 0) return true;
  for (const c of candidates) if (ctx.prefixIndex.matchLength(hashes, c.id) > 0) return false;
  return true;
}

/**
 * Cold request: candidates ranked never-picked first (in candidate order), then by their last cold pick, least
 * recent first; rank r of n scores 1 - r / (n - 1) (a lone candidate 1). Warm request: 0.5 for all. The order is
 * learnt from this scorer's own picks ({@link picked}), so it starts afresh when a reload builds a new profile.
 * Scoring is O(n + k log k) for k remembered candidates; a pick is O(1) (a Map kept in recency order).
 */
export class NoHitLruScorer implements Scorer {
  readonly type = NO_HIT_LRU_SCORER;
  private readonly lruSize: number;
  /** Endpoint id -> sequence number of its last cold pick; iteration order is least recent first. */
  private readonly lastColdPick = new Map<string, number>();
  private seq = 0;
  /** The scheduling call (its context) that scored a cold request; `picked` in the same call records it. */
  private coldCall: SchedulingContext | undefined;

  constructor(options: NoHitLruOptions = {}) {
    this.lruSize = options.lruSize ?? DEFAULT_NO_HIT_LRU_SIZE;
  }

  score(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    const n = candidates.length;
    if (!isCold(ctx, candidates)) {
      this.coldCall = undefined;
      out.fill(NEUTRAL, 0, n);
      return;
    }
    this.coldCall = ctx;
    if (n === 1) {
      out[0] = 1;
      return;
    }
    const used: number[] = [];
    let rank = 0;
    for (let i = 0; i < n; i++) {
      const c = candidates[i] as EndpointSnapshot;
      if (this.lastColdPick.has(c.id)) used.push(i);
      else out[i] = 1 - rank++ / (n - 1);
    }
    used.sort((a, b) => (this.lastColdPick.get(candidates[a]!.id) as number) - (this.lastColdPick.get(candidates[b]!.id) as number));
    for (const i of used) out[i] = 1 - rank++ / (n - 1);
  }

  picked(ctx: SchedulingContext, endpoint: EndpointSnapshot): void {
    if (this.coldCall !== ctx) return;
    this.coldCall = undefined;
    this.lastColdPick.delete(endpoint.id);
    this.lastColdPick.set(endpoint.id, ++this.seq);
    if (this.lastColdPick.size > this.lruSize) {
      const oldest = this.lastColdPick.keys().next();
      if (oldest.done !== true) this.lastColdPick.delete(oldest.value);
    }
  }
}
