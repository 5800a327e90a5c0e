// In-memory store with the Redis transport's semantics (per-origin data with a TTL, versions, one lease, budget
// grants), on an injected Clock: deterministic simulations and tests run replicas against it in virtual time, and
// the primary of `fairway serve --workers N` hosts one for its workers. A hub can be made unreachable or slow on demand.
import { type Clock } from '../core/index.js';
import {
  type BudgetClaim,
  type BudgetPart,
  type ExchangeTransport,
  type PeerReply,
  type RoundReply,
  type RoundRequest,
  budgetSlack,
  parseBudgetPart,
} from './transport.js';

interface OriginData {
  readonly fields: Map<string, string>;
  epoch: string;
  writes: number;
  expiresAt: number;
  /** End of its heartbeat window: past it the origin is stale (RoundRequest.heartbeatMs). */
  freshUntil: number;
}

interface Lease {
  holder: string;
  expiresAt: number;
}

/** A budget field as the grant reads it: zeros when absent (or malformed, which no replica writes). */
const NO_PART: BudgetPart = { held: 0, demand: 0, used: 0 };
function budgetOf(value: string | undefined): BudgetPart {
  return (value === undefined ? undefined : parseBudgetPart(value)) ?? NO_PART;
}

/**
 * Complexity per round: O(fields written + fields of peers whose version changed); expiry is checked lazily
 * against the clock on each round.
 */
export class MemoryHub {
  private readonly origins = new Map<string, OriginData>();
  private readonly leases = new Map<string, Lease>();
  private reachable = true;
  /** Extra delay before a round is answered (ms). */
  latencyMs = 0;

  constructor(private readonly clock: Clock) {}

  /** While false every round fails, as if the store were down. */
  setReachable(reachable: boolean): void {
    this.reachable = reachable;
  }

  /** Forgets everything, as a store restarted without persistence. */
  wipe(): void {
    this.origins.clear();
    this.leases.clear();
  }

  /** Live origins now (for tests). */
  liveOrigins(): string[] {
    this.expire();
    return [...this.origins.keys()];
  }

  /** A transport for one replica; its rounds are answered after `latencyMs`. */
  transport(): ExchangeTransport {
    return {
      round: (request) => this.delayed(() => this.round(request)),
      leave: async (origin, leaseName) => {
        this.origins.delete(origin);
        if (leaseName !== undefined && this.leases.get(leaseName)?.holder === origin) this.leases.delete(leaseName);
      },
    };
  }

  /** Handles one round at once (the IPC server of the workers' primary calls this). */
  round(request: RoundRequest): RoundReply {
    if (!this.reachable) throw new Error('shared state store unreachable');
    const now = this.clock.now();
    this.expire();
    let own = this.origins.get(request.origin);
    if (!request.full && (own === undefined || own.freshUntil < now)) return { kind: 'lost' };
    if (own === undefined || request.full) {
      own = { fields: new Map(), epoch: request.epoch, writes: 0, expiresAt: 0, freshUntil: 0 };
      this.origins.set(request.origin, own);
    }
    for (const [k, v] of request.set) own.fields.set(k, v);
    for (const k of request.del) own.fields.delete(k);
    own.expiresAt = now + request.ttlMs;
    own.freshUntil = now + Math.min(request.heartbeatMs, request.ttlMs);
    const granted =
      request.claims !== undefined && request.claims.length > 0 ? this.grant(request.origin, own.fields, request.claims, now) : undefined;
    if (request.full || request.set.size > 0 || request.del.length > 0 || granted !== undefined) own.writes++;
    const peers = new Map<string, PeerReply>();
    for (const [origin, data] of this.origins) {
      if (origin === request.origin) continue;
      const version = `${data.epoch}.${data.writes}`;
      const fields = request.known.get(origin) === version ? undefined : new Map(data.fields);
      peers.set(origin, { version, fields, stale: data.freshUntil < now });
    }
    return { kind: 'ok', serverTimeMs: now, peers, leaseHolder: this.lease(request, now), ...(granted !== undefined ? { granted } : {}) };
  }

  /** The Redis script's grant rule (see BudgetClaim), over the live origins. */
  private grant(origin: string, own: Map<string, string>, claims: readonly BudgetClaim[], now: number): Map<string, number> {
    const granted = new Map<string, number>();
    for (const c of claims) {
      const b = budgetSlack(c.cap, this.origins.size);
      let others = 0;
      for (const [o, data] of this.origins) {
        if (o === origin || data.freshUntil < now) continue;
        const { held, used } = budgetOf(data.fields.get(c.field));
        others += Math.max(held + b, used);
      }
      const ownHeld = budgetOf(own.get(c.field)).held;
      const g = Math.max(0, ownHeld, Math.min(c.want, c.cap - b - others));
      own.set(c.field, `${g},${c.demand},${c.used}`);
      granted.set(c.field, g);
    }
    return granted;
  }

  private lease(request: RoundRequest, now: number): string | undefined {
    const wanted = request.lease;
    if (wanted === undefined) return undefined;
    let lease = this.leases.get(wanted.name);
    if (lease !== undefined && lease.expiresAt <= now) {
      this.leases.delete(wanted.name);
      lease = undefined;
    }
    if (wanted.want) {
      if (lease === undefined) {
        lease = { holder: request.origin, expiresAt: now + wanted.ttlMs };
        this.leases.set(wanted.name, lease);
      } else if (lease.holder === request.origin) {
        lease.expiresAt = now + wanted.ttlMs;
      }
    } else if (lease?.holder === request.origin) {
      this.leases.delete(wanted.name);
      lease = undefined;
    }
    return lease?.holder;
  }

  private expire(): void {
    const now = this.clock.now();
    for (const [origin, data] of this.origins) if (data.expiresAt <= now) this.origins.delete(origin);
  }

  private delayed(fn: () => RoundReply): Promise<RoundReply> {
    if (this.latencyMs <= 0) return new Promise((resolve, reject) => {
      try {
        resolve(fn());
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    // The store handles the round halfway through the latency, as a network round trip would.
    return new Promise((resolve, reject) => {
      this.clock.setTimeout(() => {
        let reply: RoundReply;
        try {
          reply = fn();
        } catch (err) {
          this.clock.setTimeout(() => reject(err instanceof Error ? err : new Error(String(err))), this.latencyMs / 2);
          return;
        }
        this.clock.setTimeout(() => resolve(reply), this.latencyMs / 2);
      }, this.latencyMs / 2);
    });
  }
}
