// Queue-depth scorer: prefers the endpoint with the shortest waiting queue (Go reference `queue-scorer`).
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';
import { minMaxLowerIsBetter, scratchValues } from './min-max.js';

export const QUEUE_SCORER = 'queue-scorer';

/** Min-max normalised waiting queue from the last scrape: shortest 1, longest 0, all equal 1. */
export class QueueScorer implements Scorer {
  readonly type = QUEUE_SCORER;

  score(_ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    const values = scratchValues(candidates.length);
    for (let i = 0; i < candidates.length; i++) values[i] = candidates[i]?.metrics?.waitingQueue ?? Number.NaN;
    minMaxLowerIsBetter(values, out);
  }
}
