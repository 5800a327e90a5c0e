// Shared machinery of every detector: cache the pool figure until an input changes (pool snapshot version,
// in-flight version, or the moment a fresh endpoint turns stale), and fan out change notifications.
import { type Clock, type Logger, noopLogger, systemClock } from '../core/index.js';
import {
  type EndpointMetrics,
  type EndpointSaturationView,
  type EndpointSnapshot,
  type InflightFeed,
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
 * Complexity: `saturation()`, `endpointSaturation()` and `details()` are O(1) while inputs are unchanged and
 * O(endpoints) on the first call after a change.
 */
export abstract class CachedSaturationDetector implements SaturationDetector {
  protected readonly clock: Clock;
  protected readonly logger: Logger;
  private cached: SaturationDetails | undefined;
  private cachedExpiresAfter = Number.POSITIVE_INFINITY;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribes: (() => void)[] = [];

  protected constructor(
    readonly name: string,
    protected readonly deps: DetectorDeps,
    private readonly aggregation: Aggregation,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? noopLogger;
    this.unsubscribes.push(deps.pool.subscribe(() => this.emitChange()));
    if (deps.inflight !== undefined) this.unsubscribes.push(deps.inflight.onRelease(() => this.emitChange()));
  }

  saturation(): number {
    return this.refresh().saturation;
  }

  endpointSaturation(endpointId: string): number {
    return this.refresh().endpoints.get(endpointId) ?? 1;
  }

  pacedSaturation(): number {
    return this.refresh().pacedSaturation;
  }

  pacedEndpointSaturation(endpointId: string): number {
    const details = this.refresh();
    return details.pacedEndpoints.get(endpointId) ?? details.endpoints.get(endpointId) ?? 1;
  }

  details(): SaturationDetails {
    return this.refresh();
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

  /** Saturation of one endpoint now; set `notes.stale` / `notes.expiresAfter` when they apply. */
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

  private refresh(): SaturationDetails {
    const snapshot = this.deps.pool.current();
    const inflightVersion = this.deps.inflight?.version ?? 0;
    const now = this.clock.now();
    const c = this.cached;
    if (
      c !== undefined &&
      c.poolVersion === snapshot.version &&
      c.inflightVersion === inflightVersion &&
      now <= this.cachedExpiresAfter
    ) {
      return c;
    }
    const scores: number[] = [];
    const pacedScores: number[] = [];
    const byId = new Map<string, number>();
    const pacedById = new Map<string, number>();
    const notes: ScoreNotes = { stale: false, expiresAfter: Number.POSITIVE_INFINITY, paced: Number.NaN };
    let stale = 0;
    let expiresAfter = Number.POSITIVE_INFINITY;
    for (const endpoint of snapshot.endpoints) {
      notes.stale = false;
      notes.expiresAfter = Number.POSITIVE_INFINITY;
      notes.paced = Number.NaN;
      const score = this.scoreEndpoint(endpoint, now, notes);
      if (notes.stale) stale++;
      expiresAfter = Math.min(expiresAfter, notes.expiresAfter);
      scores.push(score);
      byId.set(endpoint.id, score);
      const paced = Number.isNaN(notes.paced) ? score : Math.max(score, notes.paced);
      pacedScores.push(paced);
      if (paced !== score) pacedById.set(endpoint.id, paced);
    }
    this.cachedExpiresAfter = expiresAfter;
    const saturation = aggregate(scores, this.aggregation);
    this.cached = Object.freeze({
      saturation,
      staleEndpoints: stale,
      endpoints: byId,
      pacedSaturation: pacedById.size === 0 ? saturation : aggregate(pacedScores, this.aggregation),
      pacedEndpoints: pacedById,
      poolVersion: snapshot.version,
      inflightVersion,
      evaluatedAt: now,
    });
    return this.cached;
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
