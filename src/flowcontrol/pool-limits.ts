// Concurrency and queue caps, per tenant and over all tenants, and the port through which replicas of one pool
// share them. A concurrency cap holds a tenant's (or everyone's) further requests in the queue while that many are
// in flight; a queue cap refuses a request (`capacity`) that would queue beyond it. Alone, a controller enforces
// the caps itself; replicas sharing state enforce them pool-wide through a LimitBudget (src/sharedstate) that
// hands each replica its part of every cap, read synchronously: no dispatch waits for the exchange.
import { InvalidArgumentError } from '../core/index.js';

/** What a cap counts: requests in flight (dispatched, lease not released) or requests queued. */
export type LimitKind = 'concurrency' | 'queued';

/** A tenant's own caps, overriding the defaults for tenants. */
export interface TenantCaps {
  readonly maxConcurrency?: number;
  readonly maxQueued?: number;
}

/** Caps as configured; every one defaults to Infinity (no cap). */
export interface PoolLimitsOptions {
  /** Requests in flight, all tenants together. */
  readonly maxConcurrency?: number;
  /** Requests queued, all tenants together (beside flow control's own `maxQueuedRequests`, which displaces). */
  readonly maxQueued?: number;
  /** Defaults for every tenant. */
  readonly tenant?: TenantCaps;
  /** Per fairness id. */
  readonly tenants?: Readonly<Record<string, TenantCaps>>;
}

/** One cap in use here: what the budget needs to hand out its part. `tenant` undefined: all tenants. */
export interface LimitDemand {
  readonly kind: LimitKind;
  readonly tenant: string | undefined;
  readonly cap: number;
  /** In flight (concurrency) or queued (queued) here now. */
  readonly used: number;
  /** Requests that want the cap and do not have it: queued ones (concurrency), refused since the last read (queued). */
  readonly waiting: number;
}

/** Implemented by the flow controller: read by the budget when it syncs. */
export interface LimitUsageSource {
  /** Every finite cap used, waited for or refused here since the last call. O(tenants in use). */
  demands(): Iterable<LimitDemand>;
  /** The cap in force for `kind` and `tenant` (Infinity: none). */
  capOf(kind: LimitKind, tenant: string | undefined): number;
}

/** The shared-state port: how much of each pool-wide cap this replica may use now. */
export interface LimitBudget {
  /** Called once by the controller; `wake` when allowances may have grown (a grant landed, a peer left). */
  attach(source: LimitUsageSource, wake: () => void): void;
  /** This replica's part of `cap` for `kind` and `tenant`, read on every dispatch and admission: O(1). */
  allowance(kind: LimitKind, tenant: string | undefined, cap: number): number;
}

/** Validated caps: Infinity where none is set. */
export class ResolvedLimits {
  readonly maxConcurrency: number;
  readonly maxQueued: number;
  private readonly tenantConcurrency: number;
  private readonly tenantQueued: number;
  private readonly tenants: ReadonlyMap<string, TenantCaps>;
  /** Some cap is finite: the controller counts per tenant only then. */
  readonly any: boolean;

  constructor(options: PoolLimitsOptions = {}) {
    this.maxConcurrency = cap('limits.maxConcurrency', options.maxConcurrency);
    this.maxQueued = cap('limits.maxQueued', options.maxQueued);
    this.tenantConcurrency = cap('limits.tenant.maxConcurrency', options.tenant?.maxConcurrency);
    this.tenantQueued = cap('limits.tenant.maxQueued', options.tenant?.maxQueued);
    const tenants = new Map<string, TenantCaps>();
    let any = [this.maxConcurrency, this.maxQueued, this.tenantConcurrency, this.tenantQueued].some(Number.isFinite);
    for (const [id, t] of Object.entries(options.tenants ?? {})) {
      const caps = { maxConcurrency: cap(`tenants.${id}.maxConcurrency`, t.maxConcurrency), maxQueued: cap(`tenants.${id}.maxQueued`, t.maxQueued) };
      if (t.maxConcurrency === undefined && t.maxQueued === undefined) continue;
      tenants.set(id, {
        ...(t.maxConcurrency !== undefined ? { maxConcurrency: caps.maxConcurrency } : {}),
        ...(t.maxQueued !== undefined ? { maxQueued: caps.maxQueued } : {}),
      });
      if (Number.isFinite(caps.maxConcurrency) || Number.isFinite(caps.maxQueued)) any = true;
    }
    this.tenants = tenants;
    this.any = any;
  }

  capOf(kind: LimitKind, tenant: string | undefined): number {
    if (tenant === undefined) return kind === 'concurrency' ? this.maxConcurrency : this.maxQueued;
    const own = this.tenants.get(tenant);
    if (kind === 'concurrency') return own?.maxConcurrency ?? this.tenantConcurrency;
    return own?.maxQueued ?? this.tenantQueued;
  }
}

function cap(field: string, v: number | undefined): number {
  if (v === undefined) return Infinity;
  if (!(v >= 1) || (Number.isFinite(v) && !Number.isInteger(v))) throw new InvalidArgumentError(field, v, 'an integer >= 1, or Infinity');
  return v;
}

/** Without shared state the process is the pool: its part of every cap is the whole cap. */
export const localBudget: LimitBudget = {
  attach: () => {},
  allowance: (_kind, _tenant, cap) => cap,
};
