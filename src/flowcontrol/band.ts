// A priority band: the flows of one priority, their fairness state, limits, and the band's arrival-order list.
import { type FairnessExchange } from './fairness-exchange.js';
import { type Flow } from './flow.js';
import { FlowLengths } from './flow-lengths.js';
import { ItemList, ItemSlot } from './item-lists.js';
import { type FairnessPolicy, type FairnessState } from './policies/fairness/fairness-policy.js';
import { type OrderingPolicy } from './policies/ordering/ordering-policy.js';

/** Resolved settings of one band (static from config, or from the template for on-demand bands). */
export interface BandSettings {
  readonly priority: number;
  readonly name: string;
  readonly fairness: FairnessPolicy;
  readonly ordering: OrderingPolicy;
  readonly maxRequests: number;
  readonly maxBytes: number;
  /** Band TTL in ms (Infinity: none beyond the default). */
  readonly ttlMs: number;
  /** Saturation ceiling configured on the band; the usage-limit policy may lower it. */
  readonly ceiling: number | undefined;
  /** Share under `weighted` band arbitration. */
  readonly weight: number;
  /** Configured bands live for the life of the process; on-demand bands are collected when idle. */
  readonly isStatic: boolean;
  /**
   * When the band is full: `fair-share` makes room by evicting the newest request of the tenant holding the
   * most queue space per unit of weight, if that is more than the newcomer's tenant would hold; `reject`
   * turns the newcomer away.
   */
  readonly overflow: BandOverflow;
  /**
   * Pass-through (flow control "off" for the band, as the Go EPP without flow control): its requests are
   * dispatched at once whatever the saturation, and never wait behind a blocked band above. Never on a
   * sheddable band (priority < 0).
   */
  readonly passThrough: boolean;
}

/** The effective ceiling of a pass-through band: no saturation reaches it. */
export const PASS_THROUGH_CEILING = Number.POSITIVE_INFINITY;

export type BandOverflow = 'fair-share' | 'reject';

/** What a band's fairness state may reach outside the band. */
export interface BandHooks {
  /** Replicas sharing fairness: policies that support it join the band's exchange. */
  readonly exchange?: FairnessExchange;
  /** Asks the controller for a dispatch cycle. */
  readonly wake: () => void;
}

const NO_HOOKS: BandHooks = { wake: () => {} };

export class Band {
  readonly flows = new Map<string, Flow>();
  readonly fairness: FairnessState;
  /** Every queued item of the band in arrival order: O(1) access to the oldest and the newest. */
  readonly arrivals = new ItemList(ItemSlot.band);
  /** Flows by queue length; kept only under `fair-share` overflow, so `reject` bands pay nothing. */
  readonly lengths: FlowLengths | undefined;
  queuedBytes = 0;
  /**
   * Effective saturation ceiling, set by the usage-limit policy whenever the set of bands changes;
   * PASS_THROUGH_CEILING for a pass-through band.
   */
  ceiling = 1.0;
  /** Virtual pass of stride scheduling under `weighted` arbitration. */
  pass = 0;
  /**
   * Fast-path leases in flight per tenant (entries leave at 0; they have no flow, and the band is in use while any
   * entry is): a tenant that took the pool on the fast path counts them against its share under the tenant reserve.
   * O(1) per lease; at most one entry per tenant in flight.
   */
  readonly flowlessByTenant = new Map<string, number>();
  /** Sum of the weights of the tenants in `flowlessByTenant` (a tenant with a flow too is counted twice). */
  flowlessWeight = 0;
  /** Every lease of the band in flight, fast-path ones included. */
  leases = 0;
  /** Sum of the weights of the band's flows with something queued or in flight (tenant reserve). */
  activeWeight = 0;
  /** Flows of the band with something queued or in flight. */
  activeFlows = 0;
  /** When the band last became unused: no flows and no fast-path lease. */
  idleSince = 0;

  /**
   * Replaced whole by a live reconfiguration (limits, TTL, ceiling, weight, name); the fairness, ordering and
   * overflow policies of a live band never change, because its queued items and fairness state depend on them.
   */
  settings: BandSettings;

  constructor(settings: BandSettings, hooks: BandHooks = NO_HOOKS) {
    this.settings = settings;
    this.fairness = settings.fairness.newState({
      ordering: settings.ordering,
      priority: settings.priority,
      exchange: hooks.exchange,
      wake: hooks.wake,
    });
    this.lengths = settings.overflow === 'fair-share' ? new FlowLengths() : undefined;
  }

  get priority(): number {
    return this.settings.priority;
  }

  get queuedRequests(): number {
    return this.arrivals.size;
  }

  /** Queued requests of tenants held at their concurrency cap: their flows are out of the fairness state. */
  parkedRequests = 0;

  /** Queued requests that may be dispatched (not held by their tenant's concurrency cap). */
  get readyRequests(): number {
    return this.arrivals.size - this.parkedRequests;
  }

  oldestEnqueuedAt(): number | undefined {
    return this.arrivals.head?.enqueuedAt;
  }
}
