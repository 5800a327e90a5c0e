// Running-requests scorer: prefers the endpoint with the smallest batch (Go `running-requests-size-scorer`).
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';
import { minMaxLowerIsBetter, scratchValues } from './min-max.js';

export const RUNNING_REQUESTS_SCORER = 'running-requests-size-scorer';

/** Min-max normalised running requests: fewest 1, most 0, all equal 1. */
export class RunningRequestsScorer implements Scorer {
  readonly type = RUNNING_REQUESTS_SCORER;

  score(_ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    const values = scratchValues(candidates.length);
    for (let i = 0; i < candidates.length; i++) values[i] = candidates[i]?.metrics?.runningRequests ?? Number.NaN;
    minMaxLowerIsBetter(values, out);
  }
}
