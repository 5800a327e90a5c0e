// The live bands and flows: created on demand, collected when idle, bounded in number. Static bands stay.
import Denque from 'denque';
import { type Clock, type TimerHandle } from '../core/index.js';
import { Band, type BandHooks, PASS_THROUGH_CEILING } from './band.js';
import { Flow } from './flow.js';
import { type ResolvedOptions } from './options.js';

function isIdle(flow: Flow): boolean {
  return flow.queue.size === 0 && flow.leases === 0;
}

/** No flows (so nothing queued, no flow's lease) and no fast-path lease in flight. */
function isUnused(band: Band): boolean {
  return band.flows.size === 0 && band.flowlessByTenant.size === 0;
}

/**
 * Bands are kept in an array sorted highest priority first (rebuilt only when a band is created or collected,
 * which is rare); flows in a per-band Map (O(1) lookup). Idle flows are listed in the order they went idle, so
 * the oldest idle flow can be dropped in O(1) amortised when the flow limit is reached. The list is a deque
 * cleaned lazily: a flow that turns busy again stays listed (its `idleListed` flag set) until the list reaches
 * it, so releases and reuses never touch the list's memory, and each flow is listed at most once.
 */
export class BandSet {
  private readonly bands = new Map<number, Band>();
  private ordered: Band[] = [];
  private readonly idleFlows = new Denque<Flow>();
  private flowCount = 0;
  private flowSeq = 0;
  private dynamicBands = 0;
  private sweepTimer: TimerHandle | undefined;
  private cleared = false;

  constructor(
    private options: ResolvedOptions,
    private readonly clock: Clock,
    private readonly hooks: BandHooks = { wake: () => {} },
  ) {
    for (const settings of options.staticBands) this.bands.set(settings.priority, new Band(settings, hooks));
    this.reorder();
  }

  /**
   * Applies new options to what lives: each band takes its new settings (limits, TTL, ceiling, weight, name) but
   * keeps its fairness, ordering and overflow policies when those changed (returned as `kept`: an on-demand band
   * takes them when it is next created; a configured band at the next restart); newly configured bands are
   * created; bands no longer configured become on-demand (collected once idle); every flow takes its tenant's
   * new weight. Nothing queued moves. O(bands + flows).
   */
  reconfigure(options: ResolvedOptions): { priority: number; field: 'fairness' | 'ordering' | 'overflow' }[] {
    const kept: { priority: number; field: 'fairness' | 'ordering' | 'overflow' }[] = [];
    this.options = options;
    for (const settings of options.staticBands) {
      if (!this.bands.has(settings.priority)) this.bands.set(settings.priority, new Band(settings));
    }
    let dynamic = 0;
    for (const band of this.bands.values()) {
      const next = options.bandFor(band.priority);
      const old = band.settings;
      if (next.fairness !== old.fairness) kept.push({ priority: band.priority, field: 'fairness' });
      if (next.ordering !== old.ordering) kept.push({ priority: band.priority, field: 'ordering' });
      if (next.overflow !== old.overflow) kept.push({ priority: band.priority, field: 'overflow' });
      band.settings = { ...next, fairness: old.fairness, ordering: old.ordering, overflow: old.overflow };
      if (!next.isStatic) {
        dynamic++;
        if (isUnused(band) && old.isStatic) band.idleSince = this.clock.now();
      }
      for (const flow of band.flows.values()) flow.weight = options.weightOf(flow.fairnessId);
    }
    this.dynamicBands = dynamic;
    this.reorder();
    this.armSweep();
    return kept;
  }

  /** Live bands, highest priority first. */
  get highestFirst(): readonly Band[] {
    return this.ordered;
  }

  get liveFlows(): number {
    return this.flowCount;
  }

  /** The band for `priority`, created from the template if needed; undefined when the band limit is reached. */
  band(priority: number): Band | undefined {
    const existing = this.bands.get(priority);
    if (existing !== undefined) return existing;
    if (this.dynamicBands >= this.options.maxBands && !this.collectIdleBand()) return undefined;
    const band = new Band(this.options.bandFor(priority), this.hooks);
    band.idleSince = this.clock.now();
    this.bands.set(priority, band);
    this.dynamicBands++;
    this.reorder();
    // A band used only by fast-path dispatches may never get a flow, so nothing else would arm its collection.
    this.armSweep();
    return band;
  }

  /** The flow of `fairnessId` in `band`, created if needed; undefined when the flow limit is reached. */
  flow(band: Band, fairnessId: string): Flow | undefined {
    // A reused flow stays in the idle list: the list is cleaned lazily (see `takeOldestIdle`).
    const existing = band.flows.get(fairnessId);
    if (existing !== undefined) return existing;
    if (this.flowCount >= this.options.maxFlows) {
      const oldest = this.takeOldestIdle();
      if (oldest === undefined) return undefined;
      this.collectFlow(oldest);
    }
    const flow = new Flow(
      fairnessId,
      band,
      this.options.weightOf(fairnessId),
      band.settings.ordering.newQueue(),
      this.flowSeq++,
    );
    band.flows.set(fairnessId, flow);
    this.flowCount++;
    return flow;
  }

  /** A fast-path lease (it has no flow) began in `band`: the band is in use until it ends. */
  flowlessLeaseBegan(band: Band, fairnessId: string): void {
    const n = band.flowlessByTenant.get(fairnessId) ?? 0;
    band.flowlessByTenant.set(fairnessId, n + 1);
    if (n === 0) band.flowlessWeight += this.options.weightOf(fairnessId);
  }

  flowlessLeaseEnded(band: Band, fairnessId: string): void {
    const n = (band.flowlessByTenant.get(fairnessId) ?? 1) - 1;
    if (n > 0) {
      band.flowlessByTenant.set(fairnessId, n);
    } else if (band.flowlessByTenant.delete(fairnessId)) {
      band.flowlessWeight = band.flowlessByTenant.size === 0 ? 0 : band.flowlessWeight - this.options.weightOf(fairnessId);
    }
    if (band.flowlessByTenant.size > 0 || band.flows.size > 0) return;
    band.idleSince = this.clock.now();
    if (!band.settings.isStatic) this.armSweep();
  }

  /** Call when a flow may have become idle (no queued item, no lease). */
  maybeIdle(flow: Flow): void {
    if (flow.collected || !isIdle(flow)) return;
    flow.idleSince = Math.floor(this.clock.now());
    if (!flow.idleListed) {
      flow.idleListed = true;
      this.idleFlows.push(flow);
    }
    this.armSweep();
  }

  /**
   * The idle list holds flows in the order they first went idle; entries are cleaned lazily. A busy flow found on
   * the way is dropped (it re-enters when idle again), so each entry costs O(1) amortised per `maybeIdle`.
   */
  private takeOldestIdle(): Flow | undefined {
    for (let f = this.idleFlows.shift(); f !== undefined; f = this.idleFlows.shift()) {
      f.idleListed = false;
      if (!f.collected && isIdle(f)) return f;
    }
    return undefined;
  }

  /** One pass over the idle list: collects flows idle for `minIdleMs`, keeps younger ones, drops busy ones. */
  private collectIdleFlows(minIdleMs: number): void {
    const cutoff = Math.floor(this.clock.now()) - minIdleMs;
    for (let budget = this.idleFlows.length; budget > 0; budget--) {
      const f = this.idleFlows.shift();
      if (f === undefined) break;
      if (f.collected || !isIdle(f)) {
        f.idleListed = false;
        continue;
      }
      if (f.idleSince <= cutoff) this.collectFlow(f);
      else this.idleFlows.push(f);
    }
  }

  /** Drops everything (close); flows are marked collected so late lease releases are ignored. */
  clear(): void {
    this.cleared = true;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const band of this.bands.values()) {
      for (const flow of band.flows.values()) flow.collected = true;
      band.fairness.close?.();
    }
    this.idleFlows.clear();
  }

  /** Drops `flow`, which the caller has just taken off the idle list. */
  private collectFlow(flow: Flow): void {
    flow.idleListed = false;
    flow.collected = true;
    flow.band.flows.delete(flow.fairnessId);
    flow.band.fairness.flowCollected?.(flow);
    this.flowCount--;
    if (flow.band.flows.size === 0) {
      flow.band.idleSince = this.clock.now();
      if (!flow.band.settings.isStatic) this.armSweep();
    }
  }

  private collectIdleBand(): boolean {
    let victim: Band | undefined;
    for (const band of this.ordered) {
      if (!band.settings.isStatic && isUnused(band) && (victim === undefined || band.idleSince < victim.idleSince)) {
        victim = band;
      }
    }
    if (victim === undefined) return false;
    this.removeBand(victim);
    return true;
  }

  private removeBand(band: Band): void {
    band.fairness.close?.();
    this.bands.delete(band.priority);
    this.dynamicBands--;
    this.reorder();
  }

  private reorder(): void {
    this.ordered = [...this.bands.values()].sort((a, b) => b.priority - a.priority);
    const ceilings = this.options.usageLimit.ceilings(
      this.ordered.map((b) => ({ priority: b.priority, configuredCeiling: b.settings.ceiling })),
    );
    this.ordered.forEach((band, i) => {
      band.ceiling = band.settings.passThrough ? PASS_THROUGH_CEILING : (ceilings[i] ?? 1.0);
    });
  }

  private armSweep(): void {
    // After close a late lease release must not start a timer: nothing is left to collect.
    if (this.sweepTimer !== undefined || this.cleared) return;
    const interval = Math.min(this.options.flowIdleTtlMs, this.options.bandIdleTtlMs);
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweep();
    }, interval);
  }

  /** Collects flows idle longer than their TTL, then on-demand bands left without flows for longer than theirs. */
  private sweep(): void {
    const now = this.clock.now();
    this.collectIdleFlows(this.options.flowIdleTtlMs);
    let pendingBands = false;
    for (const band of [...this.ordered]) {
      if (band.settings.isStatic || !isUnused(band)) continue;
      if (now - band.idleSince >= this.options.bandIdleTtlMs) this.removeBand(band);
      else pendingBands = true;
    }
    if (this.idleFlows.length > 0 || pendingBands) this.armSweep();
  }
}
