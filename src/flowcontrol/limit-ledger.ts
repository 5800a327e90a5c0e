// The flow controller's count of what each tenant has in flight and queued, checked against the concurrency and
// queue caps (pool-limits.ts) as this replica's budget allows them; the budget reads it back when it syncs.
import { type LimitBudget, type LimitDemand, type LimitKind, type LimitUsageSource, type ResolvedLimits } from './pool-limits.js';

interface TenantUse {
  inflight: number;
  queued: number;
  /** Requests refused at the tenant's queue cap since the budget last read the demands. */
  refused: number;
  /** Held at its concurrency cap: its flows are out of the fairness state. */
  parked: boolean;
}

/**
 * Complexity: every count and check O(1) (one Map lookup; the budget's allowance is O(1)); `demands` O(tenants in
 * use). Entries exist only for tenants with something in flight, queued, refused or held.
 */
export class LimitLedger implements LimitUsageSource {
  private limits: ResolvedLimits;
  private readonly tenants = new Map<string, TenantUse>();
  private inflight = 0;
  private queued = 0;
  private refusedAll = 0;
  /** Counting started (some cap configured, now or at an earlier reconfiguration); never stops. */
  tracking: boolean;

  constructor(
    limits: ResolvedLimits,
    private readonly budget: LimitBudget,
  ) {
    this.limits = limits;
    this.tracking = limits.any;
  }

  /** New caps (a live reconfiguration). Counting starts with the first cap: earlier requests are not counted. */
  setLimits(limits: ResolvedLimits): void {
    this.limits = limits;
    if (limits.any) this.tracking = true;
  }

  capOf(kind: LimitKind, tenant: string | undefined): number {
    return this.limits.capOf(kind, tenant);
  }

  /** The cap over all tenants lets one more request go in flight here. */
  globalOpen(): boolean {
    const cap = this.limits.maxConcurrency;
    return cap === Infinity || this.inflight < this.budget.allowance('concurrency', undefined, cap);
  }

  /** The tenant's concurrency cap lets one more of its requests go in flight here. */
  tenantOpen(tenant: string): boolean {
    const cap = this.limits.capOf('concurrency', tenant);
    return cap === Infinity || (this.tenants.get(tenant)?.inflight ?? 0) < this.budget.allowance('concurrency', tenant, cap);
  }

  /** Why a request of `tenant` may not be queued now (a queue cap), counted as demand; undefined when it may. */
  queueRefusal(tenant: string): string | undefined {
    const all = this.limits.maxQueued;
    if (all !== Infinity && this.queued + 1 > this.budget.allowance('queued', undefined, all)) {
      this.refusedAll++;
      return `queue cap reached: ${this.queued} requests queued here, this replica's part of the pool-wide cap of ${all}`;
    }
    const cap = this.limits.capOf('queued', tenant);
    if (cap === Infinity) return undefined;
    const queued = this.tenants.get(tenant)?.queued ?? 0;
    if (queued + 1 <= this.budget.allowance('queued', tenant, cap)) return undefined;
    this.use(tenant).refused++;
    return `tenant ${JSON.stringify(tenant)} at its queue cap: ${queued} queued here, this replica's part of the pool-wide cap of ${cap}`;
  }

  dispatched(tenant: string): void {
    this.inflight++;
    this.use(tenant).inflight++;
  }

  released(tenant: string): void {
    if (this.inflight > 0) this.inflight--;
    const u = this.tenants.get(tenant);
    if (u === undefined) return;
    if (u.inflight > 0) u.inflight--;
    this.tidy(tenant, u);
  }

  enqueued(tenant: string): void {
    this.queued++;
    this.use(tenant).queued++;
  }

  dequeued(tenant: string): void {
    if (this.queued > 0) this.queued--;
    const u = this.tenants.get(tenant);
    if (u === undefined) return;
    if (u.queued > 0) u.queued--;
    this.tidy(tenant, u);
  }

  isParked(tenant: string): boolean {
    return this.tenants.get(tenant)?.parked === true;
  }

  setParked(tenant: string, parked: boolean): void {
    if (parked) this.use(tenant).parked = true;
    else {
      const u = this.tenants.get(tenant);
      if (u === undefined) return;
      u.parked = false;
      this.tidy(tenant, u);
    }
  }

  /**
   * Tenants held at their concurrency cap. O(tenants in use). The caller may unpark each as it goes: a Map's
   * iterator carries on past entries deleted behind it (tidy), so no copy is needed.
   */
  *parkedTenants(): Generator<string> {
    for (const [tenant, u] of this.tenants) if (u.parked) yield tenant;
  }

  *demands(): Generator<LimitDemand> {
    const l = this.limits;
    if (l.maxConcurrency !== Infinity) yield { kind: 'concurrency', tenant: undefined, cap: l.maxConcurrency, used: this.inflight, waiting: this.queued };
    if (l.maxQueued !== Infinity) {
      yield { kind: 'queued', tenant: undefined, cap: l.maxQueued, used: this.queued, waiting: this.refusedAll };
      this.refusedAll = 0;
    }
    for (const [tenant, u] of this.tenants) {
      const c = l.capOf('concurrency', tenant);
      if (c !== Infinity) yield { kind: 'concurrency', tenant, cap: c, used: u.inflight, waiting: u.queued };
      const q = l.capOf('queued', tenant);
      if (q !== Infinity) yield { kind: 'queued', tenant, cap: q, used: u.queued, waiting: u.refused };
      u.refused = 0;
      this.tidy(tenant, u);
    }
  }

  private use(tenant: string): TenantUse {
    let u = this.tenants.get(tenant);
    if (u === undefined) {
      u = { inflight: 0, queued: 0, refused: 0, parked: false };
      this.tenants.set(tenant, u);
    }
    return u;
  }

  private tidy(tenant: string, u: TenantUse): void {
    if (u.inflight === 0 && u.queued === 0 && u.refused === 0 && !u.parked) this.tenants.delete(tenant);
  }
}
