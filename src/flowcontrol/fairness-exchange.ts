// Port: what weighted-fair needs to keep one fair share across several replicas of the gateway. Each replica
// reports what it gave each tenant of a band; the exchange (src/sharedstate) sums the other replicas' reports.
// Everything here is read synchronously from the last sync: no dispatch ever waits for the exchange.

/** This replica's own figures for one tenant of one band: what it publishes (it writes only its own). */
export interface OwnTenantRecord {
  readonly fairnessId: string;
  /** Weighted service this replica gave the tenant (estimated tokens / weight, corrected at release). */
  readonly service: number;
  /** Lift floor this replica set for the tenant (see weighted-fair-shared.ts): the key is at least this. */
  readonly floor: number;
  /** The tenant has requests queued on this replica. */
  readonly backlogged: boolean;
  /** The record was dropped (the tenant idle everywhere): peers forget it. */
  readonly deleted: boolean;
}

/** The other replicas' figures for one tenant of one band, summed (service) or maxed (floor), as of the last sync. */
export interface PeerTenantState {
  readonly service: number;
  readonly floor: number;
  /** Some other live replica has the tenant queued in this band. */
  readonly backlogged: boolean;
}

/** Implemented by a band's fairness state: read by the exchange when it syncs. */
export interface FairnessBandSource {
  /** Records changed since the last call, or every record when `all` (first sync, rejoin after a loss). */
  changes(all: boolean): Iterable<OwnTenantRecord>;
  /** The peers' figures changed (a sync landed, peers joined or left, the exchange went down or came back). */
  peersChanged(): void;
}

/** Implemented by the exchange: one band's view of the other replicas. O(1) reads. */
export interface FairnessBandPeers {
  /** The peers' figures for a tenant; undefined when no peer reported it. */
  tenant(fairnessId: string): PeerTenantState | undefined;
  /**
   * Tenants some peer has queued in this band. Empty while the exchange is down (local-only: nothing waits for
   * another replica), though `tenant()` keeps the last known service so keys do not jump at failure or rejoin.
   */
  backlogged(): ReadonlyMap<string, PeerTenantState>;
  /** The peers' weighted service summed over every tenant of the band (how fast the pool serves it). */
  totalService(): number;
  /** False while the exchange is down (this replica serves local-only). */
  connected(): boolean;
  /** The band was collected here: stop reading its source and withdraw its records. */
  leave(): void;
}

/** The shared-state port handed to the flow controller (`FlowControllerOptions.fairnessExchange`). */
export interface FairnessExchange {
  /** Joins the band of `priority` (called once per band object); the handle is valid until `leave()`. */
  join(priority: number, source: FairnessBandSource): FairnessBandPeers;
}
