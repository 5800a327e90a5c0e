// Public surface of the simulator: engine core, profiles, metrics, the HTTP server and the in-process pool.
export { BlockPool, type BlockAccounting } from './block-pool.js';
export { CHARS_PER_TOKEN, countTokens, textBlockHashes, tokenBlockHashes } from './block-hash.js';
export {
  SimEngine,
  type SimEngineOptions,
  DEFAULT_MAX_LORAS,
  DEFAULT_MEAN_NATURAL_OUTPUT_TOKENS,
  DEFAULT_SEED,
  DEFAULT_SPEED_FACTOR,
  DEFAULT_TIME_SCALE,
} from './engine.js';
export {
  type EngineEvent,
  type EngineObserver,
  type EngineStats,
  type FinishReason,
  type RequestListener,
  type RequestResult,
  type SubmitSpec,
} from './engine-types.js';
export {
  type SimProfile,
  type ProfileName,
  CI_PROFILE,
  H100_8B_PROFILE,
  PROFILES,
  getProfile,
  isProfileName,
  validateProfile,
} from './profile.js';
export { type SchedulingPolicy } from './waiting-queue.js';
export { type FakeMetrics, parseFakeMetrics } from './fake-metrics.js';
export { type FailureKind, FAILURE_KINDS, isFailureKind } from './failure-injector.js';
export { OUTPUT_TOKENS_HEADER } from './inference-handler.js';
export { SimMetrics, type SimMetricsOptions } from './sim-metrics.js';
export {
  SimServer,
  type SimServerOptions,
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MODEL,
  DEFAULT_PROFILE,
} from './sim-server.js';
export {
  startSimulatedPool,
  type SimulatedPool,
  type SimulatedPoolOptions,
  type SimulatedEndpoint,
  type ReplicaModels,
  DEFAULT_REPLICAS,
} from './pool.js';
// The fake Kubernetes API server is in ./kube-api/index.js: it loads @kubernetes/client-node (tens of MB of
// heap), which the CLI (whose demo imports this index) must not carry into `fairway serve`.
