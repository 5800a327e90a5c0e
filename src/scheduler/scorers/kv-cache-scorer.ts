// KV-cache scorer: prefers free KV cache (Go `kv-cache-utilization-scorer`).
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';

export const KV_CACHE_SCORER = 'kv-cache-utilization-scorer';

/** `1 - kvCacheUsage`; 0 without metrics. */
export class KvCacheScorer implements Scorer {
  readonly type = KV_CACHE_SCORER;

  score(_ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    for (let i = 0; i < candidates.length; i++) {
      const usage = candidates[i]?.metrics?.kvCacheUsage;
      out[i] = usage === undefined ? 0 : 1 - usage;
    }
  }
}
