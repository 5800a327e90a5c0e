// Load-aware scorer (llm-d's `load-aware-scorer`): a waiting queue scored against a fixed threshold rather than
// against the other candidates, so its pull does not depend on how loaded the rest of the pool is.
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';

export const LOAD_AWARE_SCORER = 'load-aware-scorer';
/** llm-d's default: the queue depth at which the score reaches 0. */
export const DEFAULT_LOAD_AWARE_THRESHOLD = 128;

export interface LoadAwareOptions {
  /** Waiting requests at which the score reaches 0. @default 128 */
  readonly threshold?: number;
}

/**
 * 0.5 for an empty waiting queue, falling linearly to 0 at `threshold` waiting requests (and beyond), as llm-d
 * scores it: an empty queue says the server is not backed up, not that it has spare capacity, so the score stops
 * at 0.5. An endpoint without metrics scores 0 (llm-d reads its missing queue as empty; Fairway prefers any
 * endpoint it can see). O(candidates).
 */
export class LoadAwareScorer implements Scorer {
  readonly type = LOAD_AWARE_SCORER;
  private readonly threshold: number;

  constructor(options: LoadAwareOptions = {}) {
    this.threshold = options.threshold ?? DEFAULT_LOAD_AWARE_THRESHOLD;
  }

  score(_ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    for (let i = 0; i < candidates.length; i++) {
      const waiting = candidates[i]?.metrics?.waitingQueue;
      out[i] = waiting === undefined ? 0 : 0.5 * (1 - Math.min(waiting, this.threshold) / this.threshold);
    }
  }
}
