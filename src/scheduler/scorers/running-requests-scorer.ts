// Running-requests scorer: prefers the endpoint with the smallest batch (Go `running-requests-size-scorer`).
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type SchedulingContext } from '../types.js';
import { LowerLoadIsBetterScorer } from './min-max.js';

export const RUNNING_REQUESTS_SCORER = 'running-requests-size-scorer';

/** Min-max normalised running requests: fewest 1, most 0, all equal 1. */
export class RunningRequestsScorer extends LowerLoadIsBetterScorer {
  readonly type = RUNNING_REQUESTS_SCORER;

  protected load(_ctx: SchedulingContext, c: EndpointSnapshot): number {
    return c.metrics?.runningRequests ?? Number.NaN;
  }
}
