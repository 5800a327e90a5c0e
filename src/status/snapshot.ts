// The status snapshot: what `/status.json`, the status page's live stream and `fairway top` carry. Types only (the
// browser page imports them too). Bounded in size whatever the traffic: top-N tenants, capped endpoint list,
// fixed-length history. Numbers that can be unlimited are null when they are (JSON has no Infinity).

/** Bump when a field changes meaning or goes away (additions keep the number). */
export const STATUS_SCHEMA_VERSION = 1;

export interface StatusSnapshot {
  readonly schema: number;
  /** Increases by one per snapshot built; `/status.json?seq=N` returns a recent one again. */
  readonly seq: number;
  /** Wall-clock time of the snapshot, ms since the epoch. */
  readonly wallTimeMs: number;
  readonly uptimeSeconds: number;
  /** Fairway's version (package.json). */
  readonly version: string;
  readonly config: ConfigSummary;
  readonly saturation: SaturationStatus;
  readonly totals: TotalsStatus;
  /** Highest priority first. */
  readonly bands: readonly BandStatus[];
  readonly tenants: TenantsStatus;
  readonly outcomes: OutcomesStatus;
  readonly endpoints: EndpointsStatus;
  readonly history: HistoryStatus;
}

export interface ConfigSummary {
  readonly detector: string;
  /** The detector's effective settings (thresholds, limits, aggregation). */
  readonly detectorSettings: Readonly<Record<string, number | string>>;
  readonly scrapeIntervalMs: number;
  readonly stalenessMs: number;
  readonly arbitration: PolicySummary;
  readonly usageLimit: PolicySummary;
  readonly defaultTtlMs: number;
  readonly maxQueuedRequests: number | null;
  readonly maxQueuedBytes: number | null;
  readonly maxFlows: number;
  /** Bands from the configuration; others are created from `bandTemplate` on demand. */
  readonly bands: readonly BandConfigSummary[];
  readonly bandTemplate: Omit<BandConfigSummary, 'priority' | 'name'>;
  readonly objectives: Readonly<Record<string, number>>;
  /** Tenants with a configured weight or priority cap. */
  readonly tenantsConfigured: number;
  readonly trustMode: string;
  readonly schedulerProfile: string;
  /** Whether tenant names are shown as hashes on this port. */
  readonly tenantNames: 'plain' | 'hashed';
}

export interface PolicySummary {
  readonly name: string;
  readonly params: Readonly<Record<string, number>>;
}

export interface BandConfigSummary {
  readonly priority: number;
  readonly name: string;
  readonly fairness: string;
  readonly ordering: string;
  readonly maxRequests: number | null;
  readonly maxBytes: number | null;
  readonly ttlMs: number | null;
  readonly ceiling: number | null;
  readonly overflow: string;
}

export interface SaturationStatus {
  readonly detector: string;
  /** Pool saturation as flow control sees it (>= 1: saturated). */
  readonly value: number;
  /** Endpoints counted as saturated because their metrics are missing or stale. */
  readonly staleEndpoints: number;
}

export interface TotalsStatus {
  readonly queuedRequests: number;
  readonly queuedBytes: number;
  readonly inflight: number;
  readonly liveFlows: number;
  /** Over the last `rateWindowSeconds`. */
  readonly dispatchedPerSecond: number;
  readonly routedPerSecond: number;
  readonly shedPerSecond: number;
  readonly rateWindowSeconds: number;
}

/**
 * Why a band is not dispatching: `ceiling` (saturation at or above its ceiling), `higher-band` (a higher band is
 * held and strict arbitration stops everything below it), or `open`.
 */
export type BandGate = 'open' | 'ceiling' | 'higher-band';

export interface BandStatus {
  readonly priority: number;
  readonly name: string;
  readonly queuedRequests: number;
  readonly queuedBytes: number;
  readonly flows: number;
  /** Age of the oldest queued request, ms; 0 when nothing is queued. */
  readonly oldestWaitMs: number;
  readonly dispatchedPerSecond: number;
  /** The saturation ceiling; 0 for a pass-through band (see `passThrough`). */
  readonly ceiling: number;
  /** Flow control is off for the band (`flowControl.passThrough`): dispatched at once, never held. */
  readonly passThrough?: boolean;
  /** Held only matters while requests wait: an empty band reports `open`. */
  readonly gate: BandGate;
}

export interface TenantsStatus {
  /** Tenants with any flow-control event in the last `activeWindowSeconds`. */
  readonly active: number;
  readonly activeWindowSeconds: number;
  /** Time constant of the served-token rates, seconds (exponentially weighted). */
  readonly decaySeconds: number;
  /** Jain's index over served tokens / weight of the active tenants (1 = equal weighted shares). */
  readonly jainIndex: number;
  /** Most served first. */
  readonly byServed: readonly ServedTenant[];
  /** Longest queue first; a tenant appears once per band it queues in. */
  readonly byQueued: readonly QueuedTenant[];
}

export interface ServedTenant {
  readonly id: string;
  readonly weight: number;
  /** Served tokens per second, exponentially weighted over `decaySeconds`. */
  readonly tokensPerSecond: number;
  /** Its part of everything served (0..1). */
  readonly share: number;
  /** Its weight over the weights of all active tenants: what it gets when every active tenant is backlogged. */
  readonly fairShare: number;
  /** share - fairShare: above 0 it gets more than its weight; below 0 and backlogged, less. */
  readonly distance: number;
  /** Requests it has queued now (any band). */
  readonly queuedRequests: number;
}

export interface QueuedTenant {
  readonly id: string;
  readonly priority: number;
  readonly queuedRequests: number;
  readonly inflight: number;
  readonly weight: number;
}

export interface OutcomesStatus {
  readonly windowSeconds: number;
  /** Requests answered without being routed, by drop reason (the `x-fairway-drop-reason` values). */
  readonly shed: Readonly<Record<string, number>>;
  /**
   * Requests taken out of a queue before dispatch, by reason (ttl, cancelled, displaced, fair-share, ...), and
   * dispatched requests taken back from their model server, as `in-flight:<reason>` (in-flight:preempted).
   */
  readonly evicted: Readonly<Record<string, number>>;
  readonly dispatched: number;
  readonly routed: number;
}

export interface EndpointsStatus {
  readonly total: number;
  /** The first `maxEndpoints` by id; `total` says how many exist. */
  readonly list: readonly EndpointStatus[];
}

export interface EndpointStatus {
  readonly id: string;
  /** Null until the first good scrape. */
  readonly kvCacheUsage: number | null;
  readonly waiting: number | null;
  readonly running: number | null;
  /** Requests Fairway sent there and has not seen finish. */
  readonly inflight: number;
  /** Age of the last good scrape, ms; null if none yet. */
  readonly scrapeAgeMs: number | null;
  readonly stale: boolean;
  /** The detector's saturation of this endpoint (>= 1: no headroom). */
  readonly saturation: number;
}

/** Per-second samples, oldest first; `times[i]` is the wall-clock second (ms) of sample i. */
export interface HistoryStatus {
  readonly stepSeconds: number;
  readonly times: readonly number[];
  readonly jainIndex: readonly number[];
  readonly saturation: readonly number[];
  readonly queuedRequests: readonly number[];
  readonly inflight: readonly number[];
  readonly dispatchedPerSecond: readonly number[];
  /** Per drop reason seen in the window. */
  readonly shedPerSecond: Readonly<Record<string, readonly number[]>>;
  readonly evictedPerSecond: Readonly<Record<string, readonly number[]>>;
}
