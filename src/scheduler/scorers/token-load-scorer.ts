// Token-load scorer: prefers the endpoint with the fewest tokens Fairway itself has in flight there.
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';
import { minMaxLowerIsBetter, scratchValues } from './min-max.js';

export const TOKEN_LOAD_SCORER = 'token-load-scorer';

/**
 * Min-max normalised in-flight tokens (prompt + expected output). Request counts treat a 100k-token prompt like
 * a 10-token one; tokens do not. Known at once (our own accounting), so it needs no scrape.
 */
export class TokenLoadScorer implements Scorer {
  readonly type = TOKEN_LOAD_SCORER;

  score(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    const values = scratchValues(candidates.length);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      values[i] = c === undefined ? Number.NaN : ctx.inflight.load(c.id).tokens;
    }
    minMaxLowerIsBetter(values, out);
  }
}
