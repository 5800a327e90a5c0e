// Pool store: the one writer of endpoint state, publishing immutable PoolSnapshots (copy-on-write) to the
// request path, and marking endpoints stale when their metrics age past the limit.
import {
  type Clock,
  type Logger,
  type TimerHandle,
  noopLogger,
  requirePositive,
  systemClock,
} from '../core/index.js';
import {
  type EndpointMetrics,
  type EndpointSnapshot,
  type PoolSnapshot,
  type PoolView,
  type ScrapeFailureInfo,
  endpointId,
} from './endpoint.js';
import { type ScrapeFailureReason } from './scrape-failure.js';
import { type EndpointSpec } from './endpoint-source.js';

/** @default 200 ms, the Go EPP's staleness limit. */
export const DEFAULT_STALE_AFTER_MS = 200;

export interface PoolStoreOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default noopLogger */
  readonly logger?: Logger;
  /** Metrics older than this mark the endpoint stale (a new snapshot is published). @default 200 */
  readonly staleAfterMs?: number;
}

interface Entry {
  snapshot: EndpointSnapshot;
  /** Position in `order` (insertion order, as the published endpoint list). */
  index: number;
}

/**
 * Every field of EndpointSnapshot, optional ones included, less `scrapeFailure` (which a good scrape clears): the
 * snapshots built field by field (`upsert`, `recordMetrics`) must name each, so a field added to EndpointSnapshot
 * fails to compile there until it is carried over, instead of being dropped by the next scrape.
 */
type EveryField = { readonly [K in Exclude<keyof EndpointSnapshot, 'scrapeFailure'>]-?: EndpointSnapshot[K] };

/**
 * Writes are O(n) in the pool size (the endpoint array is copied into a new frozen snapshot: one `slice` of the
 * current snapshots kept in publishing order, a block copy rather than a walk of the map pushing into a growing
 * array); reads (`current()`) are O(1) and never see a half-applied change.
 *
 * Staleness: one timer for the whole pool, at the earliest moment a fresh endpoint's metrics reach the limit; it
 * sweeps every endpoint (O(n)), marks the aged ones stale in one snapshot and re-arms at the next expiry. With
 * endpoints scraped every interval that is about once per (limit - interval) in all, where a timer per endpoint
 * fired n times per limit (5,000 timer callbacks a second for 1,000 endpoints at 200 ms).
 */
export class PoolStore implements PoolView {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly staleAfterMs: number;
  private readonly entries = new Map<string, Entry>();
  /** Each entry's current snapshot at its `index`: the next published endpoint list, copied whole. */
  private readonly order: EndpointSnapshot[] = [];
  private readonly listeners = new Set<(snapshot: PoolSnapshot) => void>();
  private snapshot: PoolSnapshot;
  private closed = false;
  private sweepTimer: TimerHandle | undefined;
  /** When the sweep timer fires; +Infinity when none is armed. */
  private sweepAt = Number.POSITIVE_INFINITY;
  /** Inside batch(): writes mark the store dirty and one snapshot is published at the end. */
  private batchDepth = 0;
  private dirty = false;

  constructor(options: PoolStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? noopLogger;
    this.staleAfterMs = requirePositive('staleAfterMs', options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS);
    this.snapshot = Object.freeze({ version: 0, takenAt: this.clock.now(), endpoints: Object.freeze([]) });
  }

  current(): PoolSnapshot {
    return this.snapshot;
  }

  subscribe(listener: (snapshot: PoolSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Adds an endpoint (no metrics yet, stale) or updates its labels; returns its id. */
  upsert(spec: EndpointSpec): string {
    const id = endpointId(spec.host, spec.port);
    const entry = this.entries.get(id);
    // Unchanged labels (the common case on a resync) allocate nothing.
    if (entry !== undefined && sameLabels(entry.snapshot.labels, spec.labels ?? {})) return id;
    const labels = Object.freeze({ ...(spec.labels ?? {}) });
    if (entry === undefined) {
      const snapshot: EndpointSnapshot = Object.freeze({
        id,
        host: spec.host,
        port: spec.port,
        labels,
        metrics: undefined,
        scrapedAt: undefined,
        stale: true,
      } satisfies EveryField);
      this.entries.set(id, { snapshot, index: this.order.length });
      this.order.push(snapshot);
    } else {
      this.set(entry, Object.freeze({ ...entry.snapshot, labels }));
    }
    this.publish();
    return id;
  }

  remove(id: string): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    this.entries.delete(id);
    // O(n): later entries move up one place (membership changes only).
    this.order.splice(entry.index, 1);
    for (const other of this.entries.values()) if (other.index > entry.index) other.index--;
    this.publish();
    return true;
  }

  /** A good scrape: fresh metrics, not stale. Ignored for unknown (already removed) endpoints. */
  recordMetrics(id: string, metrics: EndpointMetrics, scrapedAt: number): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    const { host, port, labels } = entry.snapshot;
    // Built field by field (the failure, if any, left out): 20,000 times a second at 1,000 endpoints, where a
    // rest-spread copy of the old snapshot cost several times more. `satisfies EveryField` keeps the list whole.
    this.set(entry, Object.freeze({ id, host, port, labels, metrics, scrapedAt, stale: false } satisfies EveryField));
    this.armSweep(scrapedAt + this.staleAfterMs);
    this.publish();
  }

  /**
   * A failed scrape: keep the last good metrics for diagnosis, but mark the endpoint stale at once. With a
   * reason, the snapshot says why; a new snapshot is published only when that changes.
   */
  recordFailure(id: string, reason?: ScrapeFailureReason): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    const before = entry.snapshot.scrapeFailure;
    let failure: ScrapeFailureInfo | undefined = before;
    if (reason !== undefined && before?.reason !== reason) failure = Object.freeze({ reason });
    if (entry.snapshot.stale && failure === before) return;
    this.set(entry, Object.freeze({ ...entry.snapshot, stale: true, ...(failure === undefined ? {} : { scrapeFailure: failure }) }));
    this.publish();
  }

  /** Runs `writes` publishing at most one snapshot at the end (O(n) once instead of once per write). */
  batch(writes: () => void): void {
    this.batchDepth++;
    try {
      writes();
    } finally {
      this.batchDepth--;
      if (this.batchDepth === 0 && this.dirty) this.publish();
    }
  }

  /** Endpoints known now, by id. */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Clears every timer and listener; the last snapshot stays readable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweepAt = Number.POSITIVE_INFINITY;
    this.listeners.clear();
  }

  private set(entry: Entry, snapshot: EndpointSnapshot): void {
    entry.snapshot = snapshot;
    this.order[entry.index] = snapshot;
  }

  /** Keeps the one sweep timer at or before `expiry`; O(1), nothing to do while it already fires earlier. */
  private armSweep(expiry: number): void {
    if (this.closed || expiry >= this.sweepAt) return;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    this.sweepAt = expiry;
    this.sweepTimer = this.clock.setTimeout(() => this.sweep(), Math.max(0, expiry - this.clock.now()));
  }

  /** Marks every endpoint whose metrics reached the limit stale (one snapshot) and re-arms at the next expiry. */
  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    const now = this.clock.now();
    let next = Number.POSITIVE_INFINITY;
    this.batch(() => {
      for (const entry of this.entries.values()) {
        const { snapshot } = entry;
        if (snapshot.stale || snapshot.scrapedAt === undefined) continue;
        const expiry = snapshot.scrapedAt + this.staleAfterMs;
        if (expiry <= now) {
          this.set(entry, Object.freeze({ ...snapshot, stale: true }));
          this.publish();
        } else if (expiry < next) {
          next = expiry;
        }
      }
    });
    // Never sooner than the clock's next millisecond: endpoints expiring within one are swept together.
    if (next !== Number.POSITIVE_INFINITY) this.armSweep(Math.max(next, now + 1));
  }

  private publish(): void {
    if (this.batchDepth > 0) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    const endpoints = this.order.slice();
    this.snapshot = Object.freeze({
      version: this.snapshot.version + 1,
      takenAt: this.clock.now(),
      endpoints: Object.freeze(endpoints),
    });
    const snapshot = this.snapshot;
    for (const listener of this.listeners) {
      try {
        listener(snapshot);
      } catch (err: unknown) {
        this.logger.error({ err }, 'pool snapshot listener threw');
      }
    }
  }
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}
