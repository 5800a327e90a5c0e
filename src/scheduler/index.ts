// Public surface of src/scheduler: filter -> score -> pick over pool snapshots, with a prefix-cache index.
export {
  type ScheduleRequest,
  type ScheduleResult,
  type UnschedulableReason,
  type SchedulingContext,
  type Filter,
  type Scorer,
  type ScorerSession,
  type Picker,
} from './types.js';
export { Scheduler, type SchedulerOptions, type RoutingRecord, MAX_ENDPOINT_COUNT } from './scheduler.js';
export { SchedulerProfile, type WeightedScorer, type ProfileOutcome } from './profile.js';
export {
  ProfileConfigSchema,
  type ProfileConfig,
  DEFAULT_PROFILE_CONFIG,
  buildProfile,
  createDefaultProfile,
} from './profile-config.js';
export { type PluginDefinition, definePlugin, type SchedulerRegistries } from './plugin-registries.js';
export { createBuiltinRegistries } from './builtin-plugins.js';
export { applySubsetHint } from './filters/subset-hint.js';
export { type ModelCandidates, modelCandidates } from './model-candidates.js';
export {
  SaturationFilter,
  type SaturationFilterOptions,
  SATURATION_FILTER,
  DEFAULT_QUEUE_DEPTH_THRESHOLD,
  DEFAULT_KV_CACHE_THRESHOLD,
} from './filters/saturation-filter.js';
export {
  LoraCapacityFilter,
  type LoraCapacityFilterOptions,
  LORA_CAPACITY_FILTER,
  DEFAULT_LORA_FILTER_FAIL_OPEN,
} from './filters/lora-capacity-filter.js';
export { QueueScorer, QUEUE_SCORER } from './scorers/queue-scorer.js';
export { KvCacheScorer, KV_CACHE_SCORER } from './scorers/kv-cache-scorer.js';
export { RunningRequestsScorer, RUNNING_REQUESTS_SCORER } from './scorers/running-requests-scorer.js';
export { LoraAffinityScorer, LORA_AFFINITY_SCORER, loraAffinity } from './scorers/lora-affinity-scorer.js';
export { PrefixCacheScorer, PREFIX_CACHE_SCORER } from './scorers/prefix-cache-scorer.js';
export { TokenLoadScorer, TOKEN_LOAD_SCORER } from './scorers/token-load-scorer.js';
export { InflightLoadScorer, INFLIGHT_LOAD_SCORER } from './scorers/inflight-load-scorer.js';
export { NoHitLruScorer, NO_HIT_LRU_SCORER, DEFAULT_NO_HIT_LRU_SIZE, type NoHitLruOptions } from './scorers/no-hit-lru-scorer.js';
export { LoadAwareScorer, LOAD_AWARE_SCORER, DEFAULT_LOAD_AWARE_THRESHOLD, type LoadAwareOptions } from './scorers/load-aware-scorer.js';
export {
  SessionAffinityScorer,
  SESSION_AFFINITY_SCORER,
  DEFAULT_SESSION_HEADER,
  encodeSessionToken,
  decodeSessionToken,
} from './scorers/session-affinity-scorer.js';
export { minMaxLowerIsBetter } from './scorers/min-max.js';
export { MaxScorePicker, MAX_SCORE_PICKER } from './pickers/max-score-picker.js';
export { RandomPicker, RANDOM_PICKER } from './pickers/random-picker.js';
export { WeightedRandomPicker, WEIGHTED_RANDOM_PICKER } from './pickers/weighted-random-picker.js';
export {
  type PrefixHasher,
  type PrefixHasherOptions,
  createPrefixHasher,
  createPrefixHasherSync,
  prefixDepthBlocks,
  murmur3,
  DEFAULT_BLOCK_SIZE_BYTES,
  DEFAULT_MAX_PREFIX_BLOCKS,
  DEFAULT_DENSE_BLOCKS,
  DEFAULT_KEY_EVERY,
  keyCount,
} from './prefix/prefix-hasher.js';
export { PrefixIndex, type PrefixIndexOptions, DEFAULT_LRU_CAPACITY_PER_ENDPOINT, keyBlocks } from './prefix/prefix-index.js';
export { BlockTable } from './prefix/block-table.js';
export { type PromptSink, type PromptText, PromptBytes, writePrompt } from './prefix/prompt-text.js';
