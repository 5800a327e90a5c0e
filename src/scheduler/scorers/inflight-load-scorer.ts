// In-flight awareness: the queue as last scraped plus what we sent since, so a burst between scrapes spreads.
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type SchedulingContext } from '../types.js';
import { LowerLoadIsBetterScorer } from './min-max.js';

export const INFLIGHT_LOAD_SCORER = 'inflight-load-scorer';

/**
 * Min-max normalised `waitingQueue + requestsSinceScrape`. Scraped metrics stay frozen for up to one scrape
 * interval; without this term every request in that window sees the same "best" endpoint and herds onto it.
 * Missing metrics count as an empty queue here: the in-flight part is still known.
 */
export class InflightLoadScorer extends LowerLoadIsBetterScorer {
  readonly type = INFLIGHT_LOAD_SCORER;

  protected load(ctx: SchedulingContext, c: EndpointSnapshot): number {
    return (c.metrics?.waitingQueue ?? 0) + ctx.inflight.load(c.id).requestsSinceScrape;
  }
}
