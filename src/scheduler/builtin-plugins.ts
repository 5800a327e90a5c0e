// The built-in plug-ins, registered under their Go-reference names where one exists.
import { z } from 'zod';
import { Registry } from '../core/index.js';
import { LORA_CAPACITY_FILTER, LoraCapacityFilter } from './filters/lora-capacity-filter.js';
import { SATURATION_FILTER, SaturationFilter } from './filters/saturation-filter.js';
import { MAX_SCORE_PICKER, MaxScorePicker } from './pickers/max-score-picker.js';
import { RANDOM_PICKER, RandomPicker } from './pickers/random-picker.js';
import { WEIGHTED_RANDOM_PICKER, WeightedRandomPicker } from './pickers/weighted-random-picker.js';
import { definePlugin, type SchedulerRegistries } from './plugin-registries.js';
import { INFLIGHT_LOAD_SCORER, InflightLoadScorer } from './scorers/inflight-load-scorer.js';
import { KV_CACHE_SCORER, KvCacheScorer } from './scorers/kv-cache-scorer.js';
import { LOAD_AWARE_SCORER, LoadAwareScorer } from './scorers/load-aware-scorer.js';
import { LORA_AFFINITY_SCORER, LoraAffinityScorer } from './scorers/lora-affinity-scorer.js';
import { NO_HIT_LRU_SCORER, NoHitLruScorer } from './scorers/no-hit-lru-scorer.js';
import { PREFIX_CACHE_SCORER, PrefixCacheScorer } from './scorers/prefix-cache-scorer.js';
import { QUEUE_SCORER, QueueScorer } from './scorers/queue-scorer.js';
import { RUNNING_REQUESTS_SCORER, RunningRequestsScorer } from './scorers/running-requests-scorer.js';
import { SESSION_AFFINITY_SCORER, SessionAffinityScorer } from './scorers/session-affinity-scorer.js';
import { TOKEN_LOAD_SCORER, TokenLoadScorer } from './scorers/token-load-scorer.js';

const noParameters = z.object({}).strict();

/** Fresh registries holding every built-in; add your own plug-ins to the returned instances. */
export function createBuiltinRegistries(): SchedulerRegistries {
  const filters: SchedulerRegistries['filters'] = new Registry('filter');
  filters.register(
    SATURATION_FILTER,
    definePlugin(
      z
        .object({
          queueDepthThreshold: z.number().int().positive().optional(),
          kvCacheThreshold: z.number().gt(0).max(1).optional(),
        })
        .strict(),
      (p) => new SaturationFilter(p),
    ),
  );
  filters.register(
    LORA_CAPACITY_FILTER,
    definePlugin(z.object({ failOpen: z.boolean().optional() }).strict(), (p) => new LoraCapacityFilter(p)),
  );

  const scorers: SchedulerRegistries['scorers'] = new Registry('scorer');
  scorers.register(QUEUE_SCORER, definePlugin(noParameters, () => new QueueScorer()));
  scorers.register(KV_CACHE_SCORER, definePlugin(noParameters, () => new KvCacheScorer()));
  scorers.register(RUNNING_REQUESTS_SCORER, definePlugin(noParameters, () => new RunningRequestsScorer()));
  scorers.register(LORA_AFFINITY_SCORER, definePlugin(noParameters, () => new LoraAffinityScorer()));
  scorers.register(PREFIX_CACHE_SCORER, definePlugin(noParameters, () => new PrefixCacheScorer()));
  scorers.register(TOKEN_LOAD_SCORER, definePlugin(noParameters, () => new TokenLoadScorer()));
  scorers.register(INFLIGHT_LOAD_SCORER, definePlugin(noParameters, () => new InflightLoadScorer()));
  scorers.register(
    NO_HIT_LRU_SCORER,
    definePlugin(z.object({ lruSize: z.number().int().positive().optional() }).strict(), (p) => new NoHitLruScorer(p)),
  );
  scorers.register(
    LOAD_AWARE_SCORER,
    definePlugin(z.object({ threshold: z.number().int().positive().optional() }).strict(), (p) => new LoadAwareScorer(p)),
  );
  scorers.register(
    SESSION_AFFINITY_SCORER,
    definePlugin(
      z
        .object({
          header: z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name').optional(),
          secret: z.string().min(16, 'at least 16 characters').optional(),
        })
        .strict(),
      (p) => new SessionAffinityScorer(p),
    ),
  );

  const pickers: SchedulerRegistries['pickers'] = new Registry('picker');
  pickers.register(MAX_SCORE_PICKER, definePlugin(noParameters, () => new MaxScorePicker()));
  pickers.register(RANDOM_PICKER, definePlugin(noParameters, () => new RandomPicker()));
  pickers.register(WEIGHTED_RANDOM_PICKER, definePlugin(noParameters, () => new WeightedRandomPicker()));

  return { filters, scorers, pickers };
}
