// The exchange's transport port: one round trip per sync that writes this replica's own data and reads every
// other live replica's. Implemented over Redis (redis-transport.ts) and in memory (memory-hub.ts: tests,
// simulations, and the workers of one `fairway serve --workers N` talking to their primary).

/** What one replica sends in one round. */
export interface RoundRequest {
  /** This replica's id: it writes only the data stored under it. */
  readonly origin: string;
  /** Own data (and with it the replica's membership) expires this long after the last round: the heartbeat. */
  readonly ttlMs: number;
  /**
   * A replica silent for longer than this (its heartbeat window: `ttlIntervals` sync intervals, shorter than
   * `ttlMs`) is stale: its data stays readable but it counts in no budget grant, peers see it flagged
   * (`PeerReply.stale`), and its own next round that is not full is answered `lost`, so it rewrites its data whole.
   */
  readonly heartbeatMs: number;
  /** Replace own data entirely (first round, after a failed round, after a loss); `epoch` names this write. */
  readonly full: boolean;
  readonly epoch: string;
  /** Fields to set and to delete in own data. */
  readonly set: ReadonlyMap<string, string>;
  readonly del: readonly string[];
  /** Version of each peer's data already held: a peer whose version is unchanged is not sent again. */
  readonly known: ReadonlyMap<string, string>;
  /** A named lease to take or renew (`want`) or to give up, for leader election (scrape once per pool). */
  readonly lease?: { readonly name: string; readonly ttlMs: number; readonly want: boolean };
  /** Budget claims on pool-wide caps, granted atomically by the store after `set`/`del` (see BudgetClaim). */
  readonly claims?: readonly BudgetClaim[];
}

/**
 * A claim on one pool-wide cap (budget handed out in batches; see limits-channel.ts). Every live replica's own
 * field for the cap reads `held,demand,used`. The store grants
 *   held' = max(held, min(want, cap - b - sum over the other live replicas of max(held_j + b, used_j)))
 * (never below 0), with b = budgetSlack(cap, live replicas) and the sum over the live replicas that are not stale
 * (see RoundRequest.heartbeatMs: a crashed replica's parts are not kept reserved), writes `held',demand,used` into the claimant's own
 * field and answers held'. Every replica may use up to its held + b, so the replicas' use stays within the cap.
 */
export interface BudgetClaim {
  /** The claimant's own field holding its share of the cap. */
  readonly field: string;
  readonly cap: number;
  readonly want: number;
  readonly demand: number;
  readonly used: number;
}

/** A replica's field for one cap, `held,demand,used`: its part, what it asks, what it uses. */
export interface BudgetPart {
  readonly held: number;
  readonly demand: number;
  readonly used: number;
}

/**
 * Reads a `held,demand,used` budget field (the limits channel's view of its peers, the in-memory store's grant);
 * undefined when malformed, which no replica writes. The Redis script parses the same format in Lua.
 */
export function parseBudgetPart(value: string): BudgetPart | undefined {
  const [held, demand, used] = value.split(',').map(Number);
  if (!Number.isFinite(held) || !Number.isFinite(demand) || !Number.isFinite(used)) return undefined;
  return { held: held as number, demand: demand as number, used: used as number };
}

/**
 * What every replica may use of a cap beyond the budget it holds, without asking: max(1, floor(cap / 8n)) for n
 * live replicas. The Redis script computes the same (keep them equal).
 */
export function budgetSlack(cap: number, replicas: number): number {
  return Math.max(1, Math.floor(cap / (8 * Math.max(1, replicas))));
}

export interface PeerReply {
  /** Changes whenever the peer's data changes (and on every full rewrite). */
  readonly version: string;
  /** The peer's fields, or undefined when `version` equals the one the request said it knew. */
  readonly fields: ReadonlyMap<string, string> | undefined;
  /** Silent past its heartbeat window (see RoundRequest.heartbeatMs): alive in the data, but maybe crashed. */
  readonly stale: boolean;
}

export type RoundReply =
  /** Own data was missing (the store restarted empty, or it expired while this replica was paused) or stale (this
   *  replica was silent past its heartbeat window, so the others may have been granted its budget), and the round
   *  was not full: nothing was written; send everything again. */
  | { readonly kind: 'lost' }
  | {
      readonly kind: 'ok';
      /** The store's clock when it handled the round (ms): the common time base of the pool's replicas. */
      readonly serverTimeMs: number;
      /** Every other live replica; one absent from the map has left or expired. */
      readonly peers: ReadonlyMap<string, PeerReply>;
      /** Who holds the requested lease now (undefined: nobody, or no lease asked). */
      readonly leaseHolder: string | undefined;
      /** Budget granted per claimed field (absent: no claims). */
      readonly granted?: ReadonlyMap<string, number>;
    };

export interface ExchangeTransport {
  /** One round trip. Rejects when the store is unreachable; the exchange times slow rounds out itself. */
  round(request: RoundRequest): Promise<RoundReply>;
  /** Withdraws this origin's data and lease at once (graceful shutdown), best effort. */
  leave(origin: string, leaseName?: string): Promise<void>;
}

/** Field names of own data start with a channel id and this separator; the rest is the channel's own key. */
export const CHANNEL_SEPARATOR = '|';
/** Field carrying the version of an origin's data; never a channel field (no separator). */
export const VERSION_FIELD = '_v';
/** Field carrying when an origin's heartbeat window ends (store ms); never a channel field. */
export const FRESH_FIELD = '_f';
