// Shared machinery of every detector: per-endpoint scores kept between evaluations and redone only where an input
// changed (an endpoint's snapshot, its in-flight load, or the moment its fresh metrics turn stale), the pool figure
// over them, and change notifications.
import { type Clock, type Logger, noopLogger, systemClock } from '../core/index.js';
import {
  type EndpointMetrics,
  type EndpointSaturationView,
  type EndpointSnapshot,
  type InflightFeed,
  type PoolSnapshot,
  type PoolView,
} from '../datalayer/index.js';
import { type SaturationSource } from '../flowcontrol/saturation-port.js';
import { type Aggregation, aggregate } from './aggregation.js';
import { freshMetrics } from './endpoint-score.js';

/** What a detector saw at its last evaluation; immutable, shared by reference until inputs change. */
export interface SaturationDetails {
  /** The pool figure `saturation()` returns. */
  readonly saturation: number;
  /** Endpoints whose metrics are missing or stale and so count as saturated (0 for metric-free detectors). */
  readonly staleEndpoints: number;
  /** Per-endpoint saturation by endpoint id (>= 1.0: no headroom). */
  readonly endpoints: ReadonlyMap<string, number>;
  /**
   * The pool figure `pacedSaturation()` returns: as `saturation`, with each endpoint's prefill backlog counted
   * (its paced score). Equal to `saturation` for detectors that do not pace.
   */
  readonly pacedSaturation: number;
  /** Per-endpoint paced scores, only where they differ from `endpoints` (others read the plain score). */
  readonly pacedEndpoints: ReadonlyMap<string, number>;
  readonly poolVersion: number;
  readonly inflightVersion: number;
  /** Clock time of the evaluation. */
  readonly evaluatedAt: number;
}

export interface SaturationDetector extends SaturationSource, EndpointSaturationView {
  /** Registry name: `utilization`, `concurrency`, `hybrid`, ... */
  readonly name: string;
  pacedSaturation(): number;
  pacedEndpointSaturation(endpointId: string): number;
  details(): SaturationDetails;
  /** The detector's effective settings (configured values with defaults filled in), for the operator's view. */
  settings(): DetectorSettings;
  /** Drops subscriptions to the pool and the in-flight tracker. Idempotent. */
  close(): void;
}

/** Named settings of a detector; an absent limit is omitted. */
export type DetectorSettings = Readonly<Record<string, number | string>>;

/** Everything a detector may read. */
export interface DetectorDeps {
  readonly pool: PoolView;
  /** Required by `concurrency` and `hybrid`. */
  readonly inflight?: InflightFeed;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default noopLogger */
  readonly logger?: Logger;
  /**
   * The pool's staleness limit (`pool.metrics.stalenessMs`): detectors that read scraped metrics count older
   * metrics as saturated unless their own `stalenessMs` option says otherwise. A fact about the pool, not an
   * option of one detector, so detectors that read no metrics (`concurrency`) simply ignore it.
   * @default DEFAULT_STALENESS_MS (200)
   */
  readonly stalenessMs?: number;
}

/** Filled by `scoreEndpoint` besides its return value; reused to keep evaluation allocation-free per endpoint. */
export interface ScoreNotes {
  /** The endpoint counted as saturated because its metrics are stale or missing. */
  stale: boolean;
  /** Clock time after which this score expires on its own (metrics turn stale); +Infinity if never. */
  expiresAfter: number;
  /** The endpoint's paced score (>= the returned score); NaN, the preset, reads as the returned score. */
  paced: number;
}

/**
 * Complexity: `saturation()`, `endpointSaturation()` and the paced reads are O(1) while inputs are unchanged.
 * After a change they rescore only the endpoints it touched: each new pool snapshot costs one pointer comparison
 * per endpoint (snapshots of unchanged endpoints are the same objects) and each in-flight change names its
 * endpoint (`InflightFeed.onLoadChange`), so a dispatch rescores one endpoint, not the pool (at 1,000 endpoints a
 * full pass ran after every snapshot and every dispatch). The pool figure is then one pass over the scores, kept
 * in a Float64Array in snapshot order (about a microsecond at 1,000 endpoints), so it is exactly what a full pass
 * computes. When the earliest expiry has passed (some endpoint's metrics aged past the staleness limit: about once
 * per staleness limit minus scrape interval when scraping keeps up, but at nearly every read when starved scraping
 * lets endpoints age out one after another), one scan of the per-position expiry times (a Float64Array, O(endpoints)
 * comparisons, ~1-2 us at 1,000, the same order as the pool figure's pass) finds the expired endpoints and the next
 * bound, and only those are rescored (a full pass cost ~100 us at 1,000). Everything is rescored (O(endpoints)
 * scoring) only when the pool's membership changed, or when the in-flight feed changed without naming where (a
 * feed without `onLoadChange`; other replicas' loads are named by the shared-state channel, so a sync round
 * rescores what it moved). `details()`
 * builds its maps (O(endpoints)) once per change, only when asked (gauges, the status page).
 */
export abstract class CachedSaturationDetector implements SaturationDetector {
  protected readonly clock: Clock;
  protected readonly logger: Logger;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribes: (() => void)[] = [];
  /** The snapshot the scores below belong to; undefined before the first evaluation. */
  private scored: PoolSnapshot | undefined;
  /** Position of each endpoint in `scored.endpoints` (rebuilt when the membership changes). */
  private indexById = new Map<string, number>();
  /** Per position: score, paced score (>= score), whether it counted as stale. */
  private scores = new Float64Array(0);
  private paced = new Float64Array(0);
  private staleAt = new Uint8Array(0);
  /** Per position: when its score expires on its own (its metrics turn stale); +Infinity if never. */
  private expiresAt = new Float64Array(0);
  /** Positions to rescore at the next evaluation (marked by in-flight changes and snapshot differences). */
  private dirty = new Uint8Array(0);
  /**
   * The marked positions are dirtyList[0..dirtyCount): written by index and reset by the count, so the array keeps
   * its capacity across reads (a fresh array per read grew again through every push).
   */
  private dirtyList: number[] = [];
  private dirtyCount = 0;
  private staleCount = 0;
  /** Positions whose paced score differs from their score. */
  private pacedCount = 0;
  /** No score expires before this (a lower bound: rescoring only ever lowers it; a full pass or a scan of `expiresAt` makes it exact). */
  private expiresBound = Number.POSITIVE_INFINITY;
  /** The feed's version at the last evaluation, and the changes it named since. */
  private inflightVersion = Number.NaN;
  private inflightNotices = 0;
  private pool = 1;
  private pacedPool = 1;
  private evaluatedAt = Number.NaN;
  /** Increases with every evaluation; `details()` is rebuilt when it moved. */
  private evaluations = 0;
  private cachedDetails: { readonly evaluation: number; readonly details: SaturationDetails } | undefined;
  /** Counts the rescoring passes (full or partial) and endpoints scored, for tests of the incremental path. */
  protected readonly scoring = { full: 0, endpoints: 0 };
  /**
   * Test hook: false rescores every endpoint at every read, whether or not an input says it changed (the
   * reference the incremental path must equal: a load that changed without a version step shows as a difference).
   */
  protected readonly incremental: boolean = true;

  protected constructor(
    readonly name: string,
    protected readonly deps: DetectorDeps,
    private readonly aggregation: Aggregation,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? noopLogger;
    this.unsubscribes.push(deps.pool.subscribe(() => this.emitChange()));
    const inflight = deps.inflight;
    if (inflight !== undefined) {
      this.unsubscribes.push(inflight.onRelease(() => this.emitChange()));
      const unsubscribe = inflight.onLoadChange?.((endpointId) => this.loadChanged(endpointId));
      if (unsubscribe !== undefined) this.unsubscribes.push(unsubscribe);
    }
  }

  saturation(): number {
    this.refresh();
    return this.pool;
  }

  endpointSaturation(endpointId: string): number {
    this.refresh();
    const i = this.indexById.get(endpointId);
    return i === undefined ? 1 : (this.scores[i] ?? 1);
  }

  pacedSaturation(): number {
    this.refresh();
    return this.pacedPool;
  }

  pacedEndpointSaturation(endpointId: string): number {
    this.refresh();
    const i = this.indexById.get(endpointId);
    return i === undefined ? 1 : (this.paced[i] ?? 1);
  }

  /**
   * One evaluation for a whole candidate list. O(endpoints): candidates are usually the pool itself in snapshot
   * order, and an endpoint object at its own position in the scored snapshot needs no lookup by id (it is that
   * position); any other takes one map lookup, as `endpointSaturation` does.
   */
  endpointSaturations(endpoints: readonly EndpointSnapshot[], out: Float64Array, paced = false): void {
    this.refresh();
    const scored = this.scored?.endpoints;
    const from = paced ? this.paced : this.scores;
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i];
      if (e === undefined) continue;
      const k = scored !== undefined && scored[i] === e ? i : this.indexById.get(e.id);
      out[i] = k === undefined ? 1 : (from[k] ?? 1);
    }
  }

  /** What the detector saw at its last evaluation: the same object until an input changes. */
  details(): SaturationDetails {
    this.refresh();
    const c = this.cachedDetails;
    if (c !== undefined && c.evaluation === this.evaluations) return c.details;
    const byId = new Map<string, number>();
    const pacedById = new Map<string, number>();
    const endpoints = this.scored?.endpoints ?? [];
    for (let i = 0; i < endpoints.length; i++) {
      const id = endpoints[i]?.id;
      if (id === undefined) continue;
      const score = this.scores[i] ?? 1;
      const paced = this.paced[i] ?? score;
      byId.set(id, score);
      if (paced !== score) pacedById.set(id, paced);
    }
    const details: SaturationDetails = Object.freeze({
      saturation: this.pool,
      staleEndpoints: this.staleCount,
      endpoints: byId,
      pacedSaturation: this.pacedPool,
      pacedEndpoints: pacedById,
      poolVersion: this.scored?.version ?? 0,
      inflightVersion: this.inflightVersion,
      evaluatedAt: this.evaluatedAt,
    });
    this.cachedDetails = { evaluation: this.evaluations, details };
    return details;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.listeners.clear();
  }

  abstract settings(): DetectorSettings;

  /**
   * Saturation of one endpoint now; set `notes.stale` / `notes.expiresAfter` / `notes.paced` when they apply.
   * Must depend only on the endpoint's snapshot, its in-flight load (`deps.inflight.load(id)`), state kept per
   * endpoint and changed only while scoring it, and whether its metrics are fresh at `now` (noted through
   * `notes.expiresAfter`): an endpoint is rescored only when one of those may have changed.
   */
  protected abstract scoreEndpoint(endpoint: EndpointSnapshot, now: number, notes: ScoreNotes): number;

  /**
   * The endpoint's metrics if fresh, noting when they will go stale so the cache expires then; undefined, noted
   * as stale, when they are missing or too old (the caller then scores the endpoint as saturated).
   */
  protected freshOrNoteStale(endpoint: EndpointSnapshot, now: number, stalenessMs: number, notes: ScoreNotes): EndpointMetrics | undefined {
    const metrics = freshMetrics(endpoint, now, stalenessMs);
    if (metrics === undefined) {
      notes.stale = true;
      return undefined;
    }
    notes.expiresAfter = (endpoint.scrapedAt ?? now) + stalenessMs;
    return metrics;
  }

  /** An in-flight change named its endpoint: rescore that one at the next evaluation. O(1). */
  private loadChanged(endpointId: string): void {
    this.inflightNotices++;
    const i = this.indexById.get(endpointId);
    if (i !== undefined) this.markDirty(i);
  }

  private markDirty(i: number): void {
    if (this.dirty[i] === 1) return;
    this.dirty[i] = 1;
    this.dirtyList[this.dirtyCount++] = i;
  }

  private refresh(): void {
    const snapshot = this.deps.pool.current();
    const inflightVersion = this.deps.inflight?.version ?? 0;
    const now = this.clock.now();
    if (this.incremental && snapshot === this.scored && inflightVersion === this.inflightVersion && now <= this.expiresBound) return;
    // Every input that changed without saying which endpoint it touched forces a full pass.
    let full = !this.incremental || this.scored === undefined;
    if (!full && inflightVersion !== this.inflightVersion && inflightVersion - this.inflightVersion !== this.inflightNotices) full = true;
    if (!full && snapshot !== this.scored) full = !this.markChangedEndpoints(snapshot);
    if (!full && now > this.expiresBound) this.markExpired(now);
    this.inflightVersion = inflightVersion;
    this.inflightNotices = 0;
    if (full) this.scoreAll(snapshot, now);
    else this.scoreDirty(snapshot, now);
    this.scored = snapshot;
    this.evaluatedAt = now;
    this.evaluations++;
    this.pool = aggregate(this.scores, this.aggregation);
    this.pacedPool = this.pacedCount === 0 ? this.pool : aggregate(this.paced, this.aggregation);
  }

  /**
   * Marks the endpoints whose snapshot object differs from the scored one at the same position; false (marking
   * nothing) when the membership or order changed. O(endpoints) pointer comparisons.
   */
  private markChangedEndpoints(snapshot: PoolSnapshot): boolean {
    const before = this.scored?.endpoints;
    const after = snapshot.endpoints;
    if (before === undefined || before.length !== after.length) return false;
    for (let i = 0; i < after.length; i++) {
      const a = before[i];
      const b = after[i];
      if (a === b) continue;
      if (a === undefined || b === undefined || a.id !== b.id) return false;
      this.markDirty(i);
    }
    return true;
  }

  /**
   * Marks the positions whose score expired by `now` and sets the bound to the earliest expiry among the others
   * (the rescored ones lower it again with their new expiry). O(endpoints) comparisons, no scoring.
   */
  private markExpired(now: number): void {
    const expiresAt = this.expiresAt;
    let bound = Number.POSITIVE_INFINITY;
    for (let i = 0; i < expiresAt.length; i++) {
      const at = expiresAt[i] ?? Number.POSITIVE_INFINITY;
      if (now > at) this.markDirty(i);
      else if (at < bound) bound = at;
    }
    this.expiresBound = bound;
  }

  private scoreAll(snapshot: PoolSnapshot, now: number): void {
    const endpoints = snapshot.endpoints;
    const n = endpoints.length;
    if (this.scores.length !== n) {
      this.scores = new Float64Array(n);
      this.paced = new Float64Array(n);
      this.staleAt = new Uint8Array(n);
      this.expiresAt = new Float64Array(n);
      this.dirty = new Uint8Array(n);
    } else {
      this.dirty.fill(0);
    }
    this.dirtyCount = 0;
    if (!sameMembers(this.scored, snapshot)) {
      this.indexById = new Map();
      for (let i = 0; i < n; i++) this.indexById.set(endpoints[i]?.id ?? '', i);
    }
    this.staleCount = 0;
    this.pacedCount = 0;
    this.expiresBound = Number.POSITIVE_INFINITY;
    const notes: ScoreNotes = { stale: false, expiresAfter: Number.POSITIVE_INFINITY, paced: Number.NaN };
    for (let i = 0; i < n; i++) {
      const endpoint = endpoints[i];
      if (endpoint !== undefined) this.scoreAt(i, endpoint, now, notes, false);
    }
    this.scoring.full++;
  }

  private scoreDirty(snapshot: PoolSnapshot, now: number): void {
    const notes: ScoreNotes = { stale: false, expiresAfter: Number.POSITIVE_INFINITY, paced: Number.NaN };
    const list = this.dirtyList;
    for (let k = 0; k < this.dirtyCount; k++) {
      const i = list[k] ?? 0;
      this.dirty[i] = 0;
      const endpoint = snapshot.endpoints[i];
      if (endpoint !== undefined) this.scoreAt(i, endpoint, now, notes, true);
    }
    this.dirtyCount = 0;
  }

  /** Scores position `i`, keeping the stale and paced counts; `rescore`: the position held an older score. */
  private scoreAt(i: number, endpoint: EndpointSnapshot, now: number, notes: ScoreNotes, rescore: boolean): void {
    if (rescore) {
      this.staleCount -= this.staleAt[i] ?? 0;
      if (this.paced[i] !== this.scores[i]) this.pacedCount--;
    }
    notes.stale = false;
    notes.expiresAfter = Number.POSITIVE_INFINITY;
    notes.paced = Number.NaN;
    const score = this.scoreEndpoint(endpoint, now, notes);
    const paced = Number.isNaN(notes.paced) ? score : Math.max(score, notes.paced);
    this.scores[i] = score;
    this.paced[i] = paced;
    this.staleAt[i] = notes.stale ? 1 : 0;
    this.expiresAt[i] = notes.expiresAfter;
    if (notes.stale) this.staleCount++;
    if (paced !== score) this.pacedCount++;
    if (notes.expiresAfter < this.expiresBound) this.expiresBound = notes.expiresAfter;
    this.scoring.endpoints++;
  }

  private emitChange(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err: unknown) {
        this.logger.error({ err, detector: this.name }, 'saturation change listener threw');
      }
    }
  }
}

/** Whether two snapshots hold the same endpoint ids in the same order. O(endpoints). */
function sameMembers(a: PoolSnapshot | undefined, b: PoolSnapshot): boolean {
  if (a === undefined || a.endpoints.length !== b.endpoints.length) return false;
  for (let i = 0; i < b.endpoints.length; i++) if (a.endpoints[i]?.id !== b.endpoints[i]?.id) return false;
  return true;
}
