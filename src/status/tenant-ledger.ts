// Served tokens per tenant for the status page and the fairness metrics (the one record of them), cheap at 100k
// tenants: exponentially weighted rates, the active set, Jain's index and the top-N most served, all kept up to date
// per event in O(1) or O(log N), never by a sort over every tenant.
//
// Forward decay (Cormode et al.): a token served at second t is stored as tokens x e^((t - L) / tau) for a landmark
// L, and read back divided by e^((now - L) / tau). Stored values then only ever grow, so the most-served tenants
// can be kept exactly in a min-heap of N (an increment-only top-N), and Jain's index (scale free) follows from
// running sums. The landmark moves before the factor can overflow (an O(tenants) pass every ~10 minutes).
import { IndexedHeap } from '../core/index.js';

interface TenantEntry {
  readonly id: string;
  readonly weight: number;
  /** Served tokens, scaled by the decay factor of the second they were served in. */
  scaled: number;
  /** Tick of the last event: the tenant is active while this is within the window. */
  lastTick: number;
  heapIndex: number;
}

export interface TenantLedgerOptions {
  /** Tenant weight (as flow control weighs it). @default every tenant 1 */
  readonly weightOf?: (fairnessId: string) => number;
  /** A tenant is active for this many ticks (seconds) after its last event. @default 60 */
  readonly activeTicks?: number;
  /** Time constant of the rates, in ticks (seconds). @default 30 */
  readonly decayTicks?: number;
  /** How many most-served tenants are kept exactly. @default 20 */
  readonly topN?: number;
}

export interface ServedReading {
  readonly id: string;
  readonly weight: number;
  /** Exponentially weighted served tokens per tick. */
  readonly rate: number;
  /** Of all active tenants' service (0..1). */
  readonly share: number;
  /** weight / the active tenants' weights. */
  readonly fairShare: number;
}

export const DEFAULT_ACTIVE_TICKS = 60;
export const DEFAULT_DECAY_TICKS = 30;
export const DEFAULT_TOP_N = 20;
/** Past this the landmark moves: values stay far from overflow (even squared) and from precision loss. */
const RENORMALISE_AT = 1e12;

/** A weight that is not a positive finite number counts as 1, so one bad entry cannot poison the sums. */
function usableWeight(w: number): number {
  return Number.isFinite(w) && w > 0 ? w : 1;
}

/**
 * Complexity: `touch` O(1) (a map lookup; a move in the map at a tenant's first event of a tick); `serve` O(1) plus O(log N) when the tenant is or becomes one of the top N; `tick`
 * O(tenants expired), plus O(tenants) when the landmark moves or the expired tenants held nearly all the service,
 * and
 * O(tenants log N) in the rare tick after a top tenant expired; readings O(N log N). Memory: one entry per tenant
 * active in the window.
 */
export class TenantLedger {
  private readonly weightOf: (fairnessId: string) => number;
  readonly activeTicks: number;
  readonly decayTicks: number;
  private readonly topN: number;
  /**
   * In order of last activity: an entry moves to the back at its first event of a tick (so at most once per
   * tenant per tick, however busy), and the idle ones are at the front.
   */
  private readonly entries = new Map<string, TenantEntry>();
  private readonly top: IndexedHeap<TenantEntry>;
  /** The heap may be missing a top tenant (one expired while others remain): rebuilt at the next tick. */
  private topDirty = false;
  private tickNo = 0;
  private landmark = 0;
  private factor = 1;
  private sumScaled = 0;
  private sumWeight = 0;
  /** Sums of x and x^2 over active tenants, x = scaled / weight (Jain's index is scale free). */
  private sumX = 0;
  private sumX2 = 0;

  constructor(options: TenantLedgerOptions = {}) {
    this.weightOf = options.weightOf ?? (() => 1);
    this.activeTicks = options.activeTicks ?? DEFAULT_ACTIVE_TICKS;
    this.decayTicks = options.decayTicks ?? DEFAULT_DECAY_TICKS;
    this.topN = options.topN ?? DEFAULT_TOP_N;
    this.top = new IndexedHeap<TenantEntry>((a, b) => a.scaled < b.scaled, {
      get: (e) => e.heapIndex,
      set: (e, i) => {
        e.heapIndex = i;
      },
    });
  }

  get activeTenants(): number {
    return this.entries.size;
  }

  /** The tenant had a flow-control event (queued, dispatched, shed): it counts as active, served or not. */
  touch(fairnessId: string): void {
    const entry = this.entries.get(fairnessId);
    if (entry === undefined) this.add(fairnessId);
    else if (entry.lastTick !== this.tickNo) this.renew(entry);
  }

  /** The tenant was served `tokens` (> 0) now. */
  serve(fairnessId: string, tokens: number): void {
    const entry = this.entries.get(fairnessId) ?? this.add(fairnessId);
    if (entry.lastTick !== this.tickNo) this.renew(entry);
    if (!(tokens > 0) || !Number.isFinite(tokens)) return;
    const added = tokens * this.factor;
    const before = entry.scaled / entry.weight;
    entry.scaled += added;
    const after = entry.scaled / entry.weight;
    this.sumScaled += added;
    this.sumX += after - before;
    this.sumX2 += after * after - before * before;
    if (!this.topDirty) this.offer(entry);
  }

  /** Advances one tick (a second): decays every rate by one step and expires tenants idle for the window. */
  tick(): void {
    this.tickNo++;
    this.factor = Math.exp((this.tickNo - this.landmark) / this.decayTicks);
    this.expire();
    if (this.factor > RENORMALISE_AT) this.renormalise();
    else if (this.topDirty) this.rebuildTop();
  }

  /** Jain's index over served tokens / weight of the active tenants; 1 when nobody (or nothing) is served. */
  jainIndex(): number {
    const n = this.entries.size;
    if (n === 0 || !(this.sumX2 > 0)) return 1;
    // Running sums can drift a hair past the bounds [1/n, 1].
    return Math.min(1, Math.max(1 / n, (this.sumX * this.sumX) / (n * this.sumX2)));
  }

  /** Every active tenant's served tokens per tick (exponentially weighted; 0 when served nothing). O(tenants). */
  recentService(): Map<string, number> {
    const out = new Map<string, number>();
    const per = this.factor * this.decayTicks;
    for (const e of this.entries.values()) out.set(e.id, e.scaled / per);
    return out;
  }

  /** The most served tenants, most first (at most N). */
  topServed(): ServedReading[] {
    const total = this.sumScaled;
    const weights = this.sumWeight;
    return this.top
      .toArray()
      .sort((a, b) => b.scaled - a.scaled || (a.id < b.id ? -1 : 1))
      .map((e) => ({
        id: e.id,
        weight: e.weight,
        rate: e.scaled / this.factor / this.decayTicks,
        share: total > 0 ? e.scaled / total : 0,
        fairShare: weights > 0 ? e.weight / weights : 0,
      }));
  }

  private add(fairnessId: string): TenantEntry {
    const entry: TenantEntry = {
      id: fairnessId,
      weight: usableWeight(this.weightOf(fairnessId)),
      scaled: 0,
      lastTick: this.tickNo,
      heapIndex: -1,
    };
    this.entries.set(fairnessId, entry);
    this.sumWeight += entry.weight;
    // While the heap holds every tenant (fewer than N), a newcomer belongs in it too.
    if (!this.topDirty && this.top.size < this.topN) this.top.push(entry);
    return entry;
  }

  private renew(entry: TenantEntry): void {
    entry.lastTick = this.tickNo;
    this.entries.delete(entry.id);
    this.entries.set(entry.id, entry);
  }

  /** Keeps the heap the N largest: a member re-sifts; an outsider enters when it passes the smallest member. */
  private offer(entry: TenantEntry): void {
    if (this.top.has(entry)) {
      this.top.update(entry);
      return;
    }
    if (this.top.size < this.topN) {
      this.top.push(entry);
      return;
    }
    const smallest = this.top.peek();
    if (smallest !== undefined && entry.scaled > smallest.scaled) {
      this.top.pop();
      this.top.push(entry);
    }
  }

  /** Drops tenants idle for the window: they are at the front of the activity order. O(expired). */
  private expire(): void {
    const cutoff = this.tickNo - this.activeTicks;
    let removedX2 = 0;
    for (const entry of this.entries.values()) {
      if (entry.lastTick > cutoff) break;
      this.entries.delete(entry.id);
      const x = entry.scaled / entry.weight;
      this.sumScaled -= entry.scaled;
      this.sumWeight -= entry.weight;
      this.sumX -= x;
      this.sumX2 -= x * x;
      removedX2 += x * x;
      if (this.top.remove(entry) && this.entries.size > this.top.size) this.topDirty = true;
    }
    // Subtracting most of a sum leaves rounding residue as large as what remains (say the only served tenants
    // expire and the rest have served nothing: sumX2 is then ~1e-10, not 0, and Jain's index comes out 1/n
    // instead of 1). When the expired tenants held nearly all of it, the sums are recomputed from the survivors:
    // O(tenants), but only in a tick where the few heaviest tenants leave at once.
    if (removedX2 > 0 && !(this.sumX2 > removedX2 * 1e-6)) this.recomputeSums();
  }

  /** Moves the landmark to now: every stored value is divided by the current factor; sums are recomputed exactly. */
  private renormalise(): void {
    const f = this.factor;
    this.landmark = this.tickNo;
    this.factor = 1;
    for (const e of this.entries.values()) e.scaled /= f;
    this.recomputeSums();
    this.rebuildTop();
  }

  private recomputeSums(): void {
    this.sumScaled = this.sumWeight = this.sumX = this.sumX2 = 0;
    for (const e of this.entries.values()) {
      const x = e.scaled / e.weight;
      this.sumScaled += e.scaled;
      this.sumWeight += e.weight;
      this.sumX += x;
      this.sumX2 += x * x;
    }
  }

  private rebuildTop(): void {
    this.top.clear();
    this.topDirty = false;
    for (const e of this.entries.values()) this.offer(e);
  }
}
