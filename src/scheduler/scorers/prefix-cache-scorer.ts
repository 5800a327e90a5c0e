// Prefix-cache scorer: prefers the endpoint that probably holds the longest prefix of this prompt in its KV cache.
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { keyBlocks } from '../prefix/prefix-index.js';
import { type Scorer, type SchedulingContext } from '../types.js';

export const PREFIX_CACHE_SCORER = 'prefix-cache-scorer';

/**
 * Matched leading blocks / total blocks (in blocks, not keys: past its dense head the hasher keys every few blocks
 * only); 0 for every candidate when the prompt is shorter than one block.
 */
export class PrefixCacheScorer implements Scorer {
  readonly type = PREFIX_CACHE_SCORER;

  score(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    const hashes = ctx.request.prefixHashes;
    const total = hashes === undefined ? 0 : keyBlocks(hashes, hashes.length);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      out[i] = hashes === undefined || total === 0 || c === undefined ? 0 : keyBlocks(hashes, ctx.prefixIndex.matchLength(hashes, c.id)) / total;
    }
  }
}
