// Flow-controller options: the documented defaults, and their one-time validation into resolved settings.
import { type Clock, type Logger, InvalidArgumentError, type Registry } from '../core/index.js';
import { type BandOverflow, type BandSettings } from './band.js';
import {
  DEFAULT_EVICTION_BURST,
  DEFAULT_EVICTIONS_PER_SECOND,
  DEFAULT_EVICT_BELOW_PRIORITY,
  DEFAULT_MAX_UNPRODUCTIVE_EVICTIONS,
  DEFAULT_UNPRODUCTIVE_PAUSE_MS,
  type InflightEvictionOptions,
  type ResolvedEvictionOptions,
} from './inflight-eviction.js';
import { type FairnessExchange } from './fairness-exchange.js';
import { type LimitBudget, type PoolLimitsOptions, ResolvedLimits } from './pool-limits.js';
import { type FlowControlObserver } from './observer.js';
import { type ArbitrationPolicy } from './policies/arbitration/arbitration-policy.js';
import { arbitrationPolicies } from './policies/arbitration/registry.js';
import { type FairnessPolicy } from './policies/fairness/fairness-policy.js';
import { fairnessPolicies } from './policies/fairness/registry.js';
import { type OrderingPolicy } from './policies/ordering/ordering-policy.js';
import { orderingPolicies } from './policies/ordering/registry.js';
import { usageLimitPolicies } from './policies/usage-limit/registry.js';
import { type UsageLimitPolicy } from './policies/usage-limit/usage-limit-policy.js';
import { type SaturationSource } from './saturation-port.js';
import { MAX_ABS_PRIORITY } from './validate-request.js';

export const DEFAULT_TTL_MS = 60_000;
export const DEFAULT_BAND_MAX_REQUESTS = 5_000;
export const DEFAULT_BAND_MAX_BYTES = 1_000_000_000;
export const DEFAULT_MAX_FLOWS = 100_000;
export const DEFAULT_MAX_BANDS = 64;
export const DEFAULT_FLOW_IDLE_TTL_MS = 10_000;
export const DEFAULT_BAND_IDLE_TTL_MS = 60_000;
export const DEFAULT_MAX_DISPATCHES_PER_CYCLE = 1_024;
export const DEFAULT_FALLBACK_INTERVAL_MS = 20;
export const DEFAULT_FAIRNESS = 'weighted-fair';
/** @default 0.02 of the pool's saturation scale: see `tenantReserve`. */
export const DEFAULT_TENANT_RESERVE = 0.02;
export const DEFAULT_ORDERING = 'fcfs';

/** One band as configured; everything but the priority has a default. */
export interface BandConfig {
  readonly priority: number;
  readonly name?: string;
  /** @default 'weighted-fair' */
  readonly fairness?: string;
  /** @default 'fcfs' */
  readonly ordering?: string;
  /** @default 5000 */
  readonly maxRequests?: number;
  /** @default 1e9 */
  readonly maxBytes?: number;
  /** Band TTL in ms; the smallest of default, band and request TTL wins. */
  readonly ttlMs?: number;
  /** Saturation ceiling; see the usage-limit policy. @default 1.0 */
  readonly ceiling?: number;
  /** Share under `weighted` arbitration. @default 2^(rank from the bottom), set when omitted */
  readonly weight?: number;
  /** What a full band does with a newcomer; see BandSettings.overflow. @default 'fair-share' */
  readonly overflow?: BandOverflow;
  /**
   * Dispatch at once whatever the saturation (BandSettings.passThrough); overrides `passThrough` of the
   * controller for this band. Not allowed below priority 0. @default the controller's `passThrough`
   */
  readonly passThrough?: boolean;
}

export type BandTemplate = Omit<BandConfig, 'priority' | 'name' | 'passThrough'>;

export interface PluginChoice {
  readonly name: string;
  readonly params?: Record<string, number>;
}

export interface FlowControllerOptions {
  readonly saturation: SaturationSource;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly observer?: FlowControlObserver;
  /** Bands configured statically: kept, with their own settings, for the life of the controller. */
  readonly bands?: readonly BandConfig[];
  /** Settings of bands created on demand for other priorities. */
  readonly bandTemplate?: BandTemplate;
  /**
   * Pass-through for every band of priority >= 0 (configured or created on demand) that does not say otherwise:
   * such requests are dispatched at once even when every endpoint is over its thresholds, as with the Go EPP's
   * flow control off; only sheddable work (< 0) waits or is shed. Queuing is then turned on band by band with
   * `bands[].passThrough: false`. @default false
   */
  readonly passThrough?: boolean;
  /** @default 60000 */
  readonly defaultTtlMs?: number;
  /** Global limit on queued requests across bands. @default Infinity */
  readonly maxQueuedRequests?: number;
  /** Global limit on queued bytes across bands. @default Infinity */
  readonly maxQueuedBytes?: number;
  /**
   * Live flows at most (a flow exists while its tenant has work queued in the band, or in flight from the queue,
   * and for `flowIdleTtlMs` after); a flood of fairness ids cannot exhaust memory. A dispatch made while nothing
   * is queued anywhere needs no flow and is never refused for this limit. @default 100000
   */
  readonly maxFlows?: number;
  /** On-demand bands at most. @default 64 */
  readonly maxBands?: number;
  /** An idle flow is forgotten after this many ms. @default 10000 */
  readonly flowIdleTtlMs?: number;
  /** An idle on-demand band is collected after this many ms. @default 60000 */
  readonly bandIdleTtlMs?: number;
  /** Tenant weights for `weighted-fair`; unlisted tenants weigh `defaultTenantWeight`. */
  readonly tenantWeights?: Readonly<Record<string, number>>;
  /** @default 1 */
  readonly defaultTenantWeight?: number;
  /** @default { name: 'strict' } */
  readonly arbitration?: PluginChoice;
  /** @default { name: 'static' } */
  readonly usageLimit?: PluginChoice;
  /** Dispatches before the cycle yields to the event loop. @default 1024 */
  readonly maxDispatchesPerCycle?: number;
  /** While work waits behind a closed gate, re-check this often (ms) in case no change is signalled. @default 20 */
  readonly fallbackIntervalMs?: number;
  /**
   * Taking back dispatched sheddable requests when higher-priority work is blocked by saturation (see
   * inflight-eviction.ts). Applies to requests enqueued with an `evictionTarget`. @default on, below priority 0
   */
  readonly inflightEviction?: InflightEvictionOptions;
  /**
   * Headroom below each band's ceiling that a tenant already holding more than its weighted share of the band's
   * in-flight requests may not fill while another tenant of the band is active: the last `tenantReserve` of the
   * pool is kept for a light or new tenant, which then starts at once instead of waiting for the heavy tenant's
   * requests to finish. A tenant alone in its band is never held back. 0 turns it off. @default 0.02
   */
  readonly tenantReserve?: number;
  readonly fairnessRegistry?: Registry<FairnessPolicy>;
  readonly orderingRegistry?: Registry<OrderingPolicy>;
  /**
   * Replicas of one pool share weighted-fair counters through this exchange (src/sharedstate), so a tenant's
   * fair share holds across replicas; absent, fairness is this process's alone. Policies other than
   * `weighted-fair` ignore it.
   */
  readonly fairnessExchange?: FairnessExchange;
  /** Concurrency and queue caps, per tenant and over all tenants (pool-limits.ts). Live: may change on reconfigure. */
  readonly limits?: PoolLimitsOptions;
  /**
   * Replicas of one pool share the caps through this budget (src/sharedstate): each enforces its part of every
   * cap; absent, this controller enforces the whole caps itself.
   */
  readonly limitBudget?: LimitBudget;
}

export interface ResolvedOptions {
  readonly defaultTtlMs: number;
  readonly maxQueuedRequests: number;
  readonly maxQueuedBytes: number;
  readonly maxFlows: number;
  readonly maxBands: number;
  readonly flowIdleTtlMs: number;
  readonly bandIdleTtlMs: number;
  readonly maxDispatchesPerCycle: number;
  readonly fallbackIntervalMs: number;
  readonly staticBands: readonly BandSettings[];
  readonly bandFor: (priority: number) => BandSettings;
  readonly weightOf: (fairnessId: string) => number;
  readonly arbitration: ArbitrationPolicy;
  readonly usageLimit: UsageLimitPolicy;
  readonly inflightEviction: ResolvedEvictionOptions;
  readonly tenantReserve: number;
  readonly limits: ResolvedLimits;
}

function positive(field: string, v: number | undefined, fallback: number, allowInfinity = false): number {
  const value = v ?? fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new InvalidArgumentError(field, value, allowInfinity ? 'a number > 0 (or Infinity)' : 'a finite number > 0');
  }
  return value;
}

/** Tenant weights stay within six orders of magnitude of 1, so weighted counters keep their precision. */
export const MIN_TENANT_WEIGHT = 1e-3;
export const MAX_TENANT_WEIGHT = 1e3;

function tenantWeight(field: string, w: unknown): number {
  if (typeof w !== 'number' || !(w >= MIN_TENANT_WEIGHT && w <= MAX_TENANT_WEIGHT)) {
    throw new InvalidArgumentError(field, w, `a number in [${MIN_TENANT_WEIGHT}, ${MAX_TENANT_WEIGHT}]`);
  }
  return w;
}

export const DEFAULT_BAND_OVERFLOW: BandOverflow = 'fair-share';

function overflowOf(field: string, v: unknown): BandOverflow {
  const value = v ?? DEFAULT_BAND_OVERFLOW;
  if (value !== 'fair-share' && value !== 'reject') throw new InvalidArgumentError(field, value, '"fair-share" or "reject"');
  return value;
}

function resolveBand(
  field: string,
  cfg: BandTemplate & { priority: number; name?: string; passThrough?: boolean },
  defaultPassThrough: boolean,
  isStatic: boolean,
  fairness: Registry<FairnessPolicy>,
  ordering: Registry<OrderingPolicy>,
): BandSettings {
  if (!Number.isInteger(cfg.priority) || Math.abs(cfg.priority) > MAX_ABS_PRIORITY) {
    throw new InvalidArgumentError(`${field}.priority`, cfg.priority, `an integer in [-${MAX_ABS_PRIORITY}, ${MAX_ABS_PRIORITY}]`);
  }
  if (cfg.ceiling !== undefined && !(cfg.ceiling > 0)) {
    throw new InvalidArgumentError(`${field}.ceiling`, cfg.ceiling, 'a number > 0');
  }
  if (cfg.passThrough === true && cfg.priority < 0) {
    throw new InvalidArgumentError(`${field}.passThrough`, cfg.passThrough, 'false on a sheddable band (priority < 0): sheddable work always waits or is shed');
  }
  return {
    priority: cfg.priority,
    name: cfg.name ?? `priority-${cfg.priority}`,
    fairness: fairness.get(cfg.fairness ?? DEFAULT_FAIRNESS),
    ordering: ordering.get(cfg.ordering ?? DEFAULT_ORDERING),
    maxRequests: positive(`${field}.maxRequests`, cfg.maxRequests, DEFAULT_BAND_MAX_REQUESTS, true),
    maxBytes: positive(`${field}.maxBytes`, cfg.maxBytes, DEFAULT_BAND_MAX_BYTES, true),
    ttlMs: positive(`${field}.ttlMs`, cfg.ttlMs, Infinity, true),
    ceiling: cfg.ceiling,
    weight: positive(`${field}.weight`, cfg.weight, 1),
    isStatic,
    overflow: overflowOf(`${field}.overflow`, cfg.overflow),
    passThrough: cfg.passThrough ?? (defaultPassThrough && cfg.priority >= 0),
  };
}

export function resolveOptions(o: FlowControllerOptions): ResolvedOptions {
  const fairness = o.fairnessRegistry ?? fairnessPolicies;
  const ordering = o.orderingRegistry ?? orderingPolicies;
  const template = o.bandTemplate ?? {};
  const passThrough = o.passThrough ?? false;
  if (typeof passThrough !== 'boolean') throw new InvalidArgumentError('passThrough', passThrough, 'a boolean');
  const seen = new Set<number>();
  const sorted = [...(o.bands ?? [])].sort((a, b) => a.priority - b.priority);
  const staticBands = sorted.map((b, rank) => {
    if (seen.has(b.priority)) throw new InvalidArgumentError('bands[].priority', b.priority, 'unique across bands');
    seen.add(b.priority);
    // Default weights double per rank from the bottom, so higher bands get the larger share.
    return resolveBand(`bands[${b.priority}]`, { weight: 2 ** rank, ...template, ...b }, passThrough, true, fairness, ordering);
  });
  // Validate the template once, eagerly, so a bad template fails at start-up rather than on first use.
  resolveBand('bandTemplate', { ...template, priority: 0 }, passThrough, false, fairness, ordering);
  const byPriority = new Map(staticBands.map((b) => [b.priority, b]));
  const bandFor = (priority: number): BandSettings =>
    byPriority.get(priority) ?? resolveBand('bandTemplate', { ...template, priority }, passThrough, false, fairness, ordering);

  const weights = new Map(Object.entries(o.tenantWeights ?? {}));
  for (const [tenant, w] of weights) tenantWeight(`tenantWeights.${tenant}`, w);
  const defaultWeight = tenantWeight('defaultTenantWeight', o.defaultTenantWeight ?? 1);
  const arbitration = o.arbitration ?? { name: 'strict' };
  const usageLimit = o.usageLimit ?? { name: 'static' };
  return {
    defaultTtlMs: positive('defaultTtlMs', o.defaultTtlMs, DEFAULT_TTL_MS, true),
    maxQueuedRequests: positive('maxQueuedRequests', o.maxQueuedRequests, Infinity, true),
    maxQueuedBytes: positive('maxQueuedBytes', o.maxQueuedBytes, Infinity, true),
    maxFlows: positive('maxFlows', o.maxFlows, DEFAULT_MAX_FLOWS),
    maxBands: positive('maxBands', o.maxBands, DEFAULT_MAX_BANDS),
    flowIdleTtlMs: positive('flowIdleTtlMs', o.flowIdleTtlMs, DEFAULT_FLOW_IDLE_TTL_MS),
    bandIdleTtlMs: positive('bandIdleTtlMs', o.bandIdleTtlMs, DEFAULT_BAND_IDLE_TTL_MS),
    maxDispatchesPerCycle: positive('maxDispatchesPerCycle', o.maxDispatchesPerCycle, DEFAULT_MAX_DISPATCHES_PER_CYCLE),
    fallbackIntervalMs: positive('fallbackIntervalMs', o.fallbackIntervalMs, DEFAULT_FALLBACK_INTERVAL_MS),
    staticBands,
    bandFor,
    weightOf: (id) => weights.get(id) ?? defaultWeight,
    arbitration: arbitrationPolicies.get(arbitration.name)(arbitration.params ?? {}),
    usageLimit: usageLimitPolicies.get(usageLimit.name)(usageLimit.params ?? {}),
    inflightEviction: resolveEviction(o.inflightEviction ?? {}),
    tenantReserve: fraction('tenantReserve', o.tenantReserve ?? DEFAULT_TENANT_RESERVE),
    limits: new ResolvedLimits(o.limits),
  };
}

function fraction(field: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new InvalidArgumentError(field, v, 'a number in [0, 1)');
  return v;
}

function resolveEviction(e: InflightEvictionOptions): ResolvedEvictionOptions {
  const below = e.belowPriority ?? DEFAULT_EVICT_BELOW_PRIORITY;
  if (!Number.isInteger(below) || Math.abs(below) > MAX_ABS_PRIORITY + 1) {
    throw new InvalidArgumentError('inflightEviction.belowPriority', below, `an integer in [-${MAX_ABS_PRIORITY + 1}, ${MAX_ABS_PRIORITY + 1}]`);
  }
  const pause = e.unproductivePauseMs ?? DEFAULT_UNPRODUCTIVE_PAUSE_MS;
  if (typeof pause !== 'number' || !(pause >= 0) || !Number.isFinite(pause)) {
    throw new InvalidArgumentError('inflightEviction.unproductivePauseMs', pause, 'a finite number >= 0');
  }
  const maxUnproductive = e.maxUnproductive ?? DEFAULT_MAX_UNPRODUCTIVE_EVICTIONS;
  if (!Number.isInteger(maxUnproductive) || maxUnproductive < 1) {
    throw new InvalidArgumentError('inflightEviction.maxUnproductive', maxUnproductive, 'an integer >= 1');
  }
  return {
    enabled: e.enabled ?? true,
    belowPriority: below,
    maxPerSecond: positive('inflightEviction.maxPerSecond', e.maxPerSecond, DEFAULT_EVICTIONS_PER_SECOND),
    burst: Math.max(1, positive('inflightEviction.burst', e.burst, DEFAULT_EVICTION_BURST)),
    maxUnproductive,
    unproductivePauseMs: pause,
  };
}
