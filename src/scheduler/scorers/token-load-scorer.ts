// Token-load scorer: prefers the endpoint with the fewest tokens Fairway itself has in flight there.
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type SchedulingContext } from '../types.js';
import { LowerLoadIsBetterScorer } from './min-max.js';

export const TOKEN_LOAD_SCORER = 'token-load-scorer';

/**
 * Min-max normalised in-flight tokens (prompt + expected output). Request counts treat a 100k-token prompt like
 * a 10-token one; tokens do not. Known at once (our own accounting), so it needs no scrape.
 */
export class TokenLoadScorer extends LowerLoadIsBetterScorer {
  readonly type = TOKEN_LOAD_SCORER;

  protected load(ctx: SchedulingContext, c: EndpointSnapshot): number {
    return ctx.inflight.load(c.id).tokens;
  }
}
