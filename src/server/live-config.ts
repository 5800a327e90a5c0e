// Applies a validated configuration to a running server (SIGHUP, a file change, or a translated
// EndpointPickerConfig): builds every new part first, so an invalid value changes nothing, then swaps objectives,
// model rewrites, tenant weights and caps, flow-control limits and TTLs, scorer weights (the profile) and saturation thresholds
// (the detector) in place. Nothing queued is dropped or re-ordered; restart-only fields keep their running value.
import { type FairwayConfig, planReload } from '../config/index.js';
import { type Logger } from '../core/index.js';
import { StaticEndpointSource } from '../datalayer/index.js';
import { type FlowController, type LiveFlowControlOptions } from '../flowcontrol/index.js';
import { type IdentityOptions, type RequestPipeline } from '../gateway/index.js';
import { type SaturationDetector, type SwappableSaturationDetector } from '../saturation/index.js';
import { DEFAULT_PROFILE_CONFIG, type Scheduler, buildProfile } from '../scheduler/index.js';
import { type ModelRewriteRules } from './model-rewrite-rules.js';
import { type ObjectivePriorities } from './objective-priorities.js';

export interface LiveTargets {
  readonly flowControl: FlowController;
  readonly saturation: SwappableSaturationDetector;
  readonly buildDetector: (config: FairwayConfig) => SaturationDetector;
  readonly objectives: ObjectivePriorities;
  /** The config file's rewrites merged with the cluster's (Kubernetes). */
  readonly rewrites: ModelRewriteRules;
  /** The static endpoint list, when not in Kubernetes mode (then the InferencePool decides the endpoints). */
  readonly staticSource: StaticEndpointSource | undefined;
  /** Built when the server starts; a reload before that only updates the configuration. */
  readonly scheduler: () => Scheduler | undefined;
  readonly pipeline: () => RequestPipeline | undefined;
  readonly logger: Logger;
}

export interface ReloadReport {
  readonly result: 'applied' | 'unchanged';
  readonly changed: readonly string[];
  readonly restartRequired: readonly string[];
  /** Band policies kept on live bands (they take effect when the band is next created, or at restart). */
  readonly keptBandPolicies: readonly string[];
  readonly effective: FairwayConfig;
}

export function flowControlOptions(config: FairwayConfig): LiveFlowControlOptions {
  const fc = config.flowControl;
  return {
    passThrough: fc.passThrough,
    bands: fc.bands,
    bandTemplate: fc.bandTemplate,
    defaultTtlMs: fc.defaultTtlMs,
    maxQueuedRequests: fc.maxQueuedRequests,
    maxQueuedBytes: fc.maxQueuedBytes,
    maxFlows: fc.maxFlows,
    maxBands: fc.maxBands,
    arbitration: fc.arbitration,
    usageLimit: fc.usageLimit,
    tenantWeights: Object.fromEntries(Object.entries(config.tenants).map(([t, v]) => [t, v.weight])),
    inflightEviction: fc.inflightEviction,
    tenantReserve: fc.tenantReserve,
    limits: {
      maxConcurrency: config.limits.maxConcurrency,
      maxQueued: config.limits.maxQueued,
      tenant: config.limits.tenant,
      tenants: Object.fromEntries(
        Object.entries(config.tenants).map(([t, v]) => [t, { maxConcurrency: v.maxConcurrency, maxQueued: v.maxQueued }]),
      ),
    },
  };
}

export function identityOptions(config: FairwayConfig, objectives: ObjectivePriorities): IdentityOptions {
  return {
    objectives,
    mode: config.trust.mode,
    tenantHeader: config.trust.tenantHeader,
    priorityCaps: new Map(
      Object.entries(config.tenants).flatMap(([t, v]) => (v.maxPriority !== undefined ? [[t, v.maxPriority] as const] : [])),
    ),
    defaultPriorityCap: config.trust.defaultPriorityCap,
  };
}

/**
 * Throws (ConfigError or InvalidArgumentError, naming the field) before changing anything when a live part of
 * `next` cannot be built; the running configuration then stays in force.
 */
export function applyLiveConfig(targets: LiveTargets, running: FairwayConfig, next: FairwayConfig): ReloadReport {
  const plan = planReload(running, next);
  const c = plan.effective;
  if (plan.changed.length === 0) {
    return { result: 'unchanged', changed: [], restartRequired: plan.restartRequired, keptBandPolicies: [], effective: c };
  }
  // 1. Build what can fail.
  const profile = buildProfile(c.scheduler.profile ?? DEFAULT_PROFILE_CONFIG);
  const detectorChanged = !sameJson(running.saturation, c.saturation);
  const rewritesChanged = !sameJson(running.modelRewrites, c.modelRewrites);
  const detector = detectorChanged ? targets.buildDetector(c) : undefined;
  const endpointsChanged = targets.staticSource !== undefined && !sameJson(running.pool.endpoints, c.pool.endpoints);
  let report;
  try {
    if (endpointsChanged) new StaticEndpointSource(c.pool.endpoints); // validation only (unique ids, ports)
    // 2. Flow control validates everything before it changes anything.
    report = targets.flowControl.reconfigure(flowControlOptions(c));
  } catch (err) {
    detector?.close();
    throw err;
  }
  // 3. Swap the rest; none of these can fail.
  if (endpointsChanged) targets.staticSource?.set(c.pool.endpoints);
  if (detector !== undefined) targets.saturation.replace(detector);
  if (rewritesChanged) targets.rewrites.setConfig(c.modelRewrites);
  targets.scheduler()?.setProfile(profile);
  targets.objectives.setConfig(c.objectives);
  targets.pipeline()?.reconfigure({
    identity: identityOptions(c, targets.objectives),
    retry: { contendedSeconds: c.server.retryAfterSeconds.contended, unavailableSeconds: c.server.retryAfterSeconds.unavailable },
    expectedOutputTokens: c.flowControl.expectedOutputTokens,
    fallbackEndpoints: c.scheduler.fallbackEndpoints,
    noEndpointTtlMs: c.flowControl.noEndpointRequestTtlMs ?? null,
  });
  const keptBandPolicies = report.kept.map((k) => `flowControl.bands[priority ${k.priority}].${k.field}`);
  return { result: 'applied', changed: plan.changed, restartRequired: plan.restartRequired, keptBandPolicies, effective: c };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
