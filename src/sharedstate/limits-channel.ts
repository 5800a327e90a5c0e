// Implements flow control's LimitBudget over the shared-state exchange: pool-wide concurrency and queue caps,
// budget handed out in batches. Each replica holds a part of every cap it uses, granted atomically by the store
// (BudgetClaim), and may use its part plus a small slack b = max(1, floor(cap / 8n)) (n live replicas) without
// asking. The store grants a claim only from what the other live replicas neither hold nor use, less their slack:
// so the sum over replicas of (held + b) stays within the cap, and with it the pool's use. Nothing waits for a
// grant: a request beyond this replica's part waits in the queue (concurrency) or is refused (queue cap) until a
// later round grants more.
//
// Each round, per cap in use here (demand d = used + waiting): a replica short of its demand (held < d - b)
// claims d; one holding more than d gives the excess back; when some replica is short, every replica gives back
// what it holds beyond its fair share of the cap (in proportion to demand) as its own requests end, so a cap
// spread over replicas converges to the demand split instead of first come, first served.
//
// Bound (stated in the README). While every replica syncs: the pool's use never exceeds the cap when the cap is
// at least 8n (b <= cap / 8n, so n b <= cap); below that, by at most n - 1 (b is at least 1). A tenant served by
// one replica alone reaches cap - (n - 1) b >= 7/8 of its cap (the others' slack is kept for them). A replica
// that stops syncing (crashed, paused, cut off) loses its part once stale (silent past its heartbeat window,
// `ttlIntervals` sync intervals; the store grants from it no longer, and it starts from nothing when it returns),
// while requests it had in flight may still run: the pool can then exceed the cap by what it held. Local-only (the store down), each
// replica enforces ceil(cap / n) for the n replicas it last saw (at most n - 1 over, once the excess of the
// moment of the failure has drained); a replica that never reached the store counts itself alone.
import {
  type LimitBudget,
  type LimitDemand,
  type LimitKind,
  type LimitUsageSource,
} from '../flowcontrol/index.js';
import { type ChannelWrites, type ExchangeChannel, type PeerView } from './exchange.js';
import { type BudgetClaim, type BudgetPart, budgetSlack, parseBudgetPart } from './transport.js';

export const LIMITS_CHANNEL = 'l';

/**
 * Rounds after a full write (start, rejoin after an outage, store restarted empty) before this replica claims:
 * until the others have published what they have in flight again, a grant could hand out what they still use.
 */
const REJOIN_GRACE_ROUNDS = 2;

/** One cap as this replica knows it. */
interface Part {
  held: number;
  /** Own field as last written (by a round or a grant): `held,demand,used`. */
  published: string | undefined;
  /** `demand,used` of the claim in flight, which the store writes after the granted part. */
  claimed: string | undefined;
}

function keyOf(kind: LimitKind, tenant: string | undefined): string {
  // 'C'/'Q' for the caps over all tenants; 'c|<id>'/'q|<id>' per tenant (ids may contain anything).
  if (tenant === undefined) return kind === 'concurrency' ? 'C' : 'Q';
  return `${kind === 'concurrency' ? 'c' : 'q'}|${tenant}`;
}

function parseKey(key: string): { kind: LimitKind; tenant: string | undefined } | undefined {
  if (key === 'C') return { kind: 'concurrency', tenant: undefined };
  if (key === 'Q') return { kind: 'queued', tenant: undefined };
  if (key.startsWith('c|')) return { kind: 'concurrency', tenant: key.slice(2) };
  if (key.startsWith('q|')) return { kind: 'queued', tenant: key.slice(2) };
  return undefined;
}

/**
 * Complexity: `allowance` O(1) (one Map lookup); per sync O(caps in use here + caps the peers reported).
 */
export class LimitsChannel implements ExchangeChannel, LimitBudget {
  readonly id = LIMITS_CHANNEL;
  private source: LimitUsageSource | undefined;
  private wake: () => void = () => {};
  private readonly parts = new Map<string, Part>();
  /** The peers' parts per cap: key -> origin -> part. */
  private peers = new Map<string, Map<string, BudgetPart>>();
  private connected = false;
  /** Live replicas, this one included, as of the last round (the last before a failure while local-only). */
  private replicas = 1;
  /** Rounds left before claiming again (see REJOIN_GRACE_ROUNDS). */
  private grace = 0;

  attach(source: LimitUsageSource, wake: () => void): void {
    this.source = source;
    this.wake = wake;
  }

  allowance(kind: LimitKind, tenant: string | undefined, cap: number): number {
    if (!this.connected) return Math.ceil(cap / this.replicas);
    const held = this.parts.get(keyOf(kind, tenant))?.held ?? 0;
    return held + budgetSlack(cap, this.replicas);
  }

  collect(all: boolean): ChannelWrites {
    const set = new Map<string, string>();
    const del: string[] = [];
    const claims: BudgetClaim[] = [];
    const source = this.source;
    if (source === undefined) return { set, del };
    // A full write starts from nothing in the store: every part must be granted again, once the others have
    // published their use again (meanwhile this replica uses its slack only: what it holds is 0).
    if (all) this.grace = REJOIN_GRACE_ROUNDS + 1;
    if (this.grace > 0) this.grace--;
    if (all) {
      for (const part of this.parts.values()) {
        part.held = 0;
        part.published = undefined;
        part.claimed = undefined;
      }
    }
    const demands = new Map<string, LimitDemand>();
    for (const d of source.demands()) demands.set(keyOf(d.kind, d.tenant), d);
    for (const key of this.parts.keys()) {
      if (demands.has(key)) continue;
      const k = parseKey(key);
      if (k !== undefined) demands.set(key, { ...k, cap: source.capOf(k.kind, k.tenant), used: 0, waiting: 0 });
    }
    for (const [key, d] of demands) {
      const part = this.parts.get(key) ?? { held: 0, published: undefined, claimed: undefined };
      if (!Number.isFinite(d.cap)) {
        // The cap was removed: give its part back.
        if (part.published !== undefined) del.push(key);
        this.parts.delete(key);
        continue;
      }
      const demand = Math.min(d.cap, d.used + d.waiting);
      const b = budgetSlack(d.cap, this.replicas);
      if (part.held < demand - b && this.grace === 0) {
        claims.push({ field: key, cap: d.cap, want: demand, demand, used: d.used });
        part.claimed = `${demand},${d.used}`;
        this.parts.set(key, part);
        continue;
      }
      let held = part.held;
      if (held > demand) held = demand;
      if (held > 0 && this.someoneShort(key, d.cap)) held = Math.min(held, Math.max(d.used - b, this.fairShare(key, d.cap, demand)));
      held = Math.max(0, held);
      if (held === 0 && d.used === 0 && d.waiting === 0) {
        if (part.published !== undefined) del.push(key);
        this.parts.delete(key);
        continue;
      }
      part.held = held;
      const value = `${held},${demand},${d.used}`;
      if (value !== part.published) {
        part.published = value;
        set.set(key, value);
      }
      this.parts.set(key, part);
    }
    return { set, del, ...(claims.length > 0 ? { claims } : {}) };
  }

  apply(view: PeerView): void {
    const wasConnected = this.connected;
    const before = this.replicas;
    this.connected = view.connected;
    if (view.connected) this.replicas = 1 + view.peers.size;
    let grew = false;
    for (const [key, g] of view.granted) {
      const part = this.parts.get(key);
      if (part === undefined) continue;
      if (g > part.held) grew = true;
      part.held = g;
      // The store wrote the field itself; the next round republishes it only if it changes.
      part.published = part.claimed !== undefined ? `${g},${part.claimed}` : undefined;
      part.claimed = undefined;
    }
    if (view.connected && view.changed.size > 0) {
      const peers = new Map<string, Map<string, BudgetPart>>();
      for (const [origin, fields] of view.peers) {
        if (view.stale.has(origin)) continue;
        for (const [key, value] of fields) {
          const p = parseBudgetPart(value);
          if (p === undefined) continue;
          let byOrigin = peers.get(key);
          if (byOrigin === undefined) {
            byOrigin = new Map();
            peers.set(key, byOrigin);
          }
          byOrigin.set(origin, p);
        }
      }
      this.peers = peers;
    }
    // Allowances change with a grant, with the replica count (the slack), and at a failure or a rejoin.
    if (grew || this.replicas < before || wasConnected !== view.connected) this.wake();
  }

  /** Some peer holds less than its demand minus its slack: the cap is contended. */
  private someoneShort(key: string, cap: number): boolean {
    const b = budgetSlack(cap, this.replicas);
    for (const p of this.peers.get(key)?.values() ?? []) if (p.held < p.demand - b) return true;
    return false;
  }

  /** This replica's share of the cap (less every replica's slack) in proportion to its demand. */
  private fairShare(key: string, cap: number, demand: number): number {
    let total = demand;
    for (const p of this.peers.get(key)?.values() ?? []) total += p.demand;
    if (total <= 0) return 0;
    const room = Math.max(0, cap - this.replicas * budgetSlack(cap, this.replicas));
    return Math.floor((room * demand) / total);
  }
}
