// Public surface of src/kubernetes: adapters over @kubernetes/client-node. The InferencePool endpoint source
// (datalayer's EndpointSource port), the InferenceObjective priorities, the InferenceModelRewrite objects, and Lease
// leader election.
export { type KubeClients, makeKubeClients } from './kube-clients.js';
export { ApiReachability } from './api-reachability.js';
export {
  type ApiErrorKind,
  type ClassifiedError,
  classifyApiError,
  KubernetesPermissionError,
  KubernetesResourceMissingError,
} from './api-errors.js';
export {
  type PodInfo,
  type PoolSpec,
  type ObjectiveSpec,
  type ModelRewriteObject,
  type ParsedModelRewrite,
  REWRITE_GROUP,
  REWRITE_VERSION,
  parseInferenceModelRewrite,
  POOL_GROUP_V1,
  POOL_GROUP_V1ALPHA2,
  OBJECTIVE_GROUP,
  OBJECTIVE_VERSION,
  ACTIVE_PORTS_ANNOTATION,
  parsePod,
  parseInferencePool,
  parseInferenceObjective,
  isRoutable,
  selectorMatches,
  poolVersionOf,
} from './resources.js';
export { DEFAULT_ENGINE_LABEL, type EndpointMappingOptions, podEndpoints, activePorts } from './pool-endpoints.js';
export {
  ResourceWatch,
  type ResourceWatchOptions,
  type WatchedResource,
  type WatchTuning,
  type WatchContext,
  sharedWatchOptions,
  DEFAULT_BACKOFF_INITIAL_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_WATCH_TIMEOUT_SECONDS,
} from './resource-watch.js';
export {
  InferencePoolEndpointSource,
  type InferencePoolSourceOptions,
  type PoolRef,
} from './inference-pool-source.js';
export { InferenceObjectiveSource, type ObjectiveSourceOptions } from './objective-source.js';
export { InferenceModelRewriteSource, type ModelRewriteSourceOptions } from './model-rewrite-source.js';
export { PoolAttachedWatch, type PoolAttachedSourceOptions, type AttachedKind, attachedTo } from './pool-attached-watch.js';
export {
  type LeaseRecord,
  type StoredLease,
  type LeaseStore,
  LeaseConflictError,
  KubernetesLeaseStore,
} from './lease-store.js';
export {
  LeaderElector,
  type LeaderElectorOptions,
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_RENEW_DEADLINE_MS,
  DEFAULT_RETRY_PERIOD_MS,
  DEFAULT_RETRY_JITTER,
} from './leader-elector.js';
