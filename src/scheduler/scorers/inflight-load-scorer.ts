// In-flight awareness: the queue as last scraped plus what we sent since, so a burst between scrapes spreads.
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';
import { minMaxLowerIsBetter, scratchValues } from './min-max.js';

export const INFLIGHT_LOAD_SCORER = 'inflight-load-scorer';

/**
 * Min-max normalised `waitingQueue + requestsSinceScrape`. Scraped metrics stay frozen for up to one scrape
 * interval; without this term every request in that window sees the same "best" endpoint and herds onto it.
 * Missing metrics count as an empty queue here: the in-flight part is still known.
 */
export class InflightLoadScorer implements Scorer {
  readonly type = INFLIGHT_LOAD_SCORER;

  score(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    const values = scratchValues(candidates.length);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      values[i] =
        c === undefined ? Number.NaN : (c.metrics?.waitingQueue ?? 0) + ctx.inflight.load(c.id).requestsSinceScrape;
    }
    minMaxLowerIsBetter(values, out);
  }
}
