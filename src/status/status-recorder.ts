// The status page's observer of flow control and the request pipeline: plain counters (dispatched per band, shed
// and evicted per reason, routed) and the tenant ledger. Every event is O(1) (O(log N) when a top tenant's
// service grows); nothing here allocates per event beyond a tenant's first appearance in the window.
import { type FlowControlObserver, type InflightEvictionEvent, type OutcomeEvent } from '../flowcontrol/index.js';
import { type DecisionEvent, type GatewayObserver, type RefusedEvent } from '../gateway/index.js';
import { TenantLedger, type TenantLedgerOptions } from './tenant-ledger.js';

/** Counter keys of `StatusRecorder.counters()`: a family, then `:` and a band priority or a reason. */
export const COUNTER = {
  dispatched: 'dispatched',
  dispatchedBand: (priority: number): string => `dispatched:${priority}`,
  routed: 'routed',
  shed: 'shed',
  shedPrefix: 'shed:',
  evictedPrefix: 'evicted:',
} as const;

/** Prefix of the eviction reasons of dispatched (in-flight) work; queue evictions carry the bare reason. */
export const IN_FLIGHT_PREFIX = 'in-flight:';

/** Families counted by reason. Reasons are strings read from the events, not a fixed list. */
export type ReasonFamily = 'shed' | 'evicted';

export class StatusRecorder implements FlowControlObserver, GatewayObserver {
  readonly tenants: TenantLedger;
  private dispatched = 0;
  private routed = 0;
  private readonly dispatchedByBand = new Map<number, number>();
  private readonly byReason: Record<ReasonFamily, Map<string, number>> = { shed: new Map(), evicted: new Map() };

  constructor(options: TenantLedgerOptions = {}) {
    this.tenants = new TenantLedger(options);
  }

  // --- FlowControlObserver ---

  onOutcome(event: OutcomeEvent): void {
    if (event.kind === 'dispatched') {
      // The tenant counts as active when its lease is released (onRelease); one map operation fewer per request.
      this.dispatched++;
      this.dispatchedByBand.set(event.priority, (this.dispatchedByBand.get(event.priority) ?? 0) + 1);
      return;
    }
    // Refused or evicted: demand that was not served still makes the tenant active.
    this.tenants.touch(event.fairnessId);
    if (event.kind === 'evicted') this.count('evicted', event.reason ?? 'unknown');
    // Rejections at admission reach the client as shed decisions (onDecision); counting them here too would
    // count them twice.
  }

  onQueued(_priority: number, fairnessId: string): void {
    this.tenants.touch(fairnessId);
  }

  onInflightEviction(event: InflightEvictionEvent): void {
    // Dispatched work taken back from a model server: an eviction too, told apart from queue evictions.
    if (event.outcome === 'evicted') this.count('evicted', `${IN_FLIGHT_PREFIX}${event.reason}`);
  }

  onDispatchCycle(_durationMs: number, _dispatched: number): void {}

  onRelease(_priority: number, fairnessId: string, estimatedCost: number, actualCost: number | undefined): void {
    // The figure fairness settles on: the reported usage, else the estimate charged at dispatch.
    this.tenants.serve(fairnessId, actualCost ?? estimatedCost);
  }

  // --- GatewayObserver ---

  onDecision(event: DecisionEvent): void {
    if (event.result === 'routed') {
      this.routed++;
      return;
    }
    this.count('shed', event.result);
  }

  onResponse(): void {}

  onRefused(event: RefusedEvent): void {
    this.count('shed', event.reason);
  }

  /**
   * Counts one request of `family` for `reason`; for sources beyond the two observer ports (in-flight eviction of
   * dispatched work, say). O(1).
   */
  count(family: ReasonFamily, reason: string): void {
    const map = this.byReason[family];
    map.set(reason, (map.get(reason) ?? 0) + 1);
  }

  /** Every counter now, under the keys of `COUNTER`. O(bands + reasons). */
  counters(): Map<string, number> {
    const out = new Map<string, number>([
      [COUNTER.dispatched, this.dispatched],
      [COUNTER.routed, this.routed],
    ]);
    let shed = 0;
    for (const [priority, n] of this.dispatchedByBand) out.set(COUNTER.dispatchedBand(priority), n);
    for (const [reason, n] of this.byReason.shed) {
      out.set(`${COUNTER.shedPrefix}${reason}`, n);
      shed += n;
    }
    out.set(COUNTER.shed, shed);
    for (const [reason, n] of this.byReason.evicted) out.set(`${COUNTER.evictedPrefix}${reason}`, n);
    return out;
  }
}
