// Public surface of src/flowcontrol: the controller, its vocabulary, its ports and its plug-in families.
export {
  FlowController,
  type FlowControlStats,
  type BandStats,
  type FlowQueueStats,
  type ReconfigureReport,
  type LiveFlowControlOptions,
} from './controller.js';
export {
  type FlowRequest,
  type ActualCost,
  type Lease,
  type Outcome,
  type OutcomeCallback,
  type DispatchedOutcome,
  type RejectedOutcome,
  type EvictedOutcome,
  type RejectReason,
  type EvictReason,
  type EnqueueOptions,
  type EvictionTarget,
  type InflightEviction,
  type InflightEvictReason,
} from './types.js';
export { type SaturationSource } from './saturation-port.js';
export {
  type FlowControlObserver,
  type OutcomeEvent,
  type InflightEvictionEvent,
  noopFlowControlObserver,
  fanOutFlowControlObserver,
} from './observer.js';
export {
  type InflightEvictionOptions,
  DEFAULT_EVICT_BELOW_PRIORITY,
  DEFAULT_EVICTIONS_PER_SECOND,
  DEFAULT_EVICTION_BURST,
  evictsBefore,
  EvictionEntry,
} from './inflight-eviction.js';
export {
  type FairnessExchange,
  type FairnessBandSource,
  type FairnessBandPeers,
  type OwnTenantRecord,
  type PeerTenantState,
} from './fairness-exchange.js';
export {
  type LimitKind,
  type TenantCaps,
  type PoolLimitsOptions,
  type LimitDemand,
  type LimitUsageSource,
  type LimitBudget,
  ResolvedLimits,
  localBudget,
} from './pool-limits.js';
export {
  type FlowControllerOptions,
  type BandConfig,
  type BandTemplate,
  type PluginChoice,
  DEFAULT_TTL_MS,
  DEFAULT_BAND_MAX_REQUESTS,
  DEFAULT_BAND_MAX_BYTES,
  DEFAULT_MAX_FLOWS,
  DEFAULT_MAX_BANDS,
  DEFAULT_FAIRNESS,
  DEFAULT_ORDERING,
  DEFAULT_BAND_OVERFLOW,
} from './options.js';
export { MAX_ABS_PRIORITY, MAX_REQUEST_COST, validateFlowRequest } from './validate-request.js';
export { type FairnessPolicy, type FairnessState, type FairnessContext } from './policies/fairness/fairness-policy.js';
export { fairnessPolicies, newFairnessRegistry } from './policies/fairness/registry.js';
export { type OrderingPolicy } from './policies/ordering/ordering-policy.js';
export { orderingPolicies, newOrderingRegistry } from './policies/ordering/registry.js';
export { type UsageLimitPolicy, type BandCeilingInput } from './policies/usage-limit/usage-limit-policy.js';
export { usageLimitPolicies } from './policies/usage-limit/registry.js';
export { type ArbitrationPolicy, type ArbitratedBand } from './policies/arbitration/arbitration-policy.js';
export { arbitrationPolicies } from './policies/arbitration/registry.js';
export { type FlowQueue } from './queue/flow-queue.js';
export { ListQueue } from './queue/list-queue.js';
export { HeapQueue } from './queue/heap-queue.js';
export { QueueItem } from './queue-item.js';
export { Flow } from './flow.js';
export { Band, type BandSettings } from './band.js';
export { SharedWeightedFairState } from './policies/fairness/weighted-fair-shared.js';
