// Queue-depth scorer: prefers the endpoint with the shortest waiting queue (Go reference `queue-scorer`).
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type SchedulingContext } from '../types.js';
import { LowerLoadIsBetterScorer } from './min-max.js';

export const QUEUE_SCORER = 'queue-scorer';

/** Min-max normalised waiting queue from the last scrape: shortest 1, longest 0, all equal 1. */
export class QueueScorer extends LowerLoadIsBetterScorer {
  readonly type = QUEUE_SCORER;

  protected load(_ctx: SchedulingContext, c: EndpointSnapshot): number {
    return c.metrics?.waitingQueue ?? Number.NaN;
  }
}
