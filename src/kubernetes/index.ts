// Public surface of src/kubernetes: adapters over @kubernetes/client-node. The InferencePool endpoint source
// (datalayer's EndpointSource port), the InferenceObjective priorities, the InferenceModelRewrite objects, and Lease
// leader election.
export { type KubeClients, makeKubeClients } from './kube-clients.js';
export { ApiReachability } from './api-reachability.js';
export { KubernetesPermissionError } from './api-errors.js';
export { parseInferenceModelRewrite, POOL_GROUP_V1, POOL_GROUP_V1ALPHA2 } from './resources.js';
export { type WatchTuning } from './resource-watch.js';
export { InferencePoolEndpointSource, type PoolRef } from './inference-pool-source.js';
export { InferenceObjectiveSource } from './objective-source.js';
export { InferenceModelRewriteSource } from './model-rewrite-source.js';
export { type LeaseRecord, type StoredLease, type LeaseStore, LeaseConflictError, KubernetesLeaseStore } from './lease-store.js';
export { LeaderElector, DEFAULT_LEASE_DURATION_MS, DEFAULT_RENEW_DEADLINE_MS, DEFAULT_RETRY_PERIOD_MS, DEFAULT_RETRY_JITTER } from './leader-elector.js';
