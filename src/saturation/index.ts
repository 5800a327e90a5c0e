// Public surface of src/saturation: detectors implementing flow control's SaturationSource port, plus the
// per-endpoint view the scheduler's headroom filter and observability read.
export { type Aggregation, AGGREGATIONS, DEFAULT_AGGREGATION, aggregate } from './aggregation.js';
export {
  type SaturationDetails,
  type SaturationDetector,
  type DetectorDeps,
  type ScoreNotes,
  type DetectorSettings,
  CachedSaturationDetector,
} from './cached-detector.js';
export {
  DEFAULT_QUEUE_THRESHOLD,
  DEFAULT_KV_THRESHOLD,
  DEFAULT_STALENESS_MS,
  freshMetrics,
  rooflineScore,
} from './endpoint-score.js';
export { type UtilizationThresholds, type ResolvedThresholds } from './options.js';
export { type UtilizationOptions, UtilizationDetector } from './utilization-detector.js';
export {
  type ConcurrencyOptions,
  type ConcurrencyMode,
  CONCURRENCY_MODES,
  ConcurrencyDetector,
  DEFAULT_MAX_REQUESTS,
  DEFAULT_MAX_TOKENS,
} from './concurrency-detector.js';
export {
  type HybridOptions,
  HybridDetector,
  DEFAULT_UNSEEN_REQUEST_WEIGHT,
  DEFAULT_UNSEEN_TOKEN_WEIGHT,
  DEFAULT_QUEUED_TOKEN_WEIGHT,
  DEFAULT_FINISHED_REQUEST_CREDIT,
  DEFAULT_HYBRID_KV_THRESHOLD,
} from './hybrid-detector.js';
export {
  type SaturationDetectorFactory,
  DEFAULT_SATURATION_DETECTOR,
  createSaturationDetectorRegistry,
} from './detector-registry.js';
export { SwappableSaturationDetector } from './swappable-detector.js';
export { type BatchReading, SLOT_PROBE_MAX_READINGS, SLOT_PROBE_READINGS, SLOT_PROVISIONAL_GROWTH, SlotLimitLearner } from './slot-limit.js';
