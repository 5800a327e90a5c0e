// Scrape once per pool: a layer over PoolMonitor's public surface. One replica, elected through the exchange's
// lease (a Redis key with a TTL), runs a PoolMonitor and publishes each endpoint's scrape; the others apply the
// published scrapes to their own PoolStore and in-flight ledger instead of scraping. A replica that is not the
// leader scrapes for itself while the shared scrapes of some endpoint are older than the staleness limit (the
// leader died or stalled and no one has taken over yet) or while the exchange is down, and stops again once the
// shared scrapes are fresh. The load on each model server is one scrape per interval, whatever the replica count.
import { type Clock, type Logger, noopLogger, systemClock } from '../core/index.js';
import {
  type EndpointMetrics,
  type EndpointSnapshot,
  type EndpointSource,
  type EndpointSpec,
  type PoolMonitorOptions,
  type PoolSnapshot,
  type PoolView,
  type ScrapeListener,
  PoolMonitor,
  PoolStore,
  endpointId,
} from '../datalayer/index.js';
import { type ChannelWrites, type ExchangeChannel, type PeerView } from './exchange.js';

export const SCRAPE_CHANNEL = 's';
export const SCRAPE_LEASE = 'scrape';

/** How a replica scrapes when it does: everything PoolMonitor takes but the source and the listener. */
export type LocalScrapeOptions = Omit<PoolMonitorOptions, 'source' | 'scrapeListener' | 'clock' | 'logger'>;

export interface ScrapeSharingOptions {
  readonly source: EndpointSource;
  /** Told of every scrape applied here, local or shared, before the snapshot is published (the in-flight ledgers). */
  readonly scrapeListener: ScrapeListener;
  readonly scrape: LocalScrapeOptions;
  /** The exchange: its lease elects the scraper, its time base stamps the scrapes. */
  readonly exchange: {
    readonly origin: string;
    setLease(name: string, want: boolean): void;
    readonly currentLeaseHolder: string | undefined;
    toShared(localMs: number): number;
    toLocal(sharedMs: number): number;
  };
  /** Shared scrapes older than this make a replica scrape for itself. */
  readonly staleAfterMs: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** One published scrape: metrics (absent when it failed) and its send and finish times in the pool's time base. */
interface SharedScrape {
  readonly metrics: EndpointMetrics | undefined;
  /** A failed scrape that could not reach the endpoint (refused, reset, timed out): feeds pool reachability. */
  readonly unreachable?: boolean;
  /** A failed scrape whose connection was accepted but not a byte came back in time ('silent'): feeds pool reachability. */
  readonly unresponsive?: boolean;
  readonly startedAt: number;
  readonly finishedAt: number;
}

export interface ScrapeSharingStats {
  /** This replica scrapes now (as the leader, or falling back). */
  readonly scraping: boolean;
  readonly leader: boolean;
  /** Scrapes applied from other replicas' publications. */
  readonly sharedApplied: number;
  /** Scrapes this replica made itself. */
  readonly localScrapes: number;
}

/**
 * Complexity: per sync O(endpoints) to publish and to apply the peers' newest scrapes; reads of `pool` are the
 * PoolStore's O(1).
 */
export class ScrapeSharing implements ExchangeChannel {
  readonly id = SCRAPE_CHANNEL;
  private readonly store: PoolStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly options: ScrapeSharingOptions;
  /** Current members by id. */
  private readonly members = new Map<string, EndpointSpec>();
  /** Newest scrape applied per endpoint, in local time (finish), whichever its origin. */
  private readonly appliedAt = new Map<string, number>();
  /** Newest local scrape per endpoint, and those not yet published (published by the leader only). */
  private readonly latest = new Map<string, SharedScrape>();
  private readonly pending = new Set<string>();
  /** Endpoints this replica has published scrapes for (withdrawn once it is no longer the leader). */
  private readonly published = new Set<string>();
  /** Newest shared scrape seen per endpoint (finish time, local clock): decides whether to fall back. */
  private readonly sharedSeenAt = new Map<string, number>();
  private monitor: PoolMonitor | undefined;
  private monitorStop: (() => void) | undefined;
  private readonly startedAtById = new Map<string, number>();
  /** How the latest local scrape of each failing endpoint failed, for the scrapes published on its behalf. */
  private readonly failureById = new Map<string, { unreachable: boolean; unresponsive: boolean }>();
  private unsubscribe: (() => void) | undefined;
  private state: 'new' | 'running' | 'closed' = 'new';
  private leader = false;
  private sharedApplied = 0;
  private localScrapes = 0;
  private readonly stopping = new Set<Promise<void>>();

  constructor(options: ScrapeSharingOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? noopLogger;
    this.store = new PoolStore({ clock: this.clock, logger: this.logger, staleAfterMs: options.staleAfterMs });
  }

  /** The pool as this replica sees it (shared or local scrapes, whichever is newer). */
  get pool(): PoolView {
    return this.store;
  }

  stats(): ScrapeSharingStats {
    return { scraping: this.monitor !== undefined, leader: this.leader, sharedApplied: this.sharedApplied, localScrapes: this.localScrapes };
  }

  /** Follows the endpoint source, asks for the scrape lease, and scrapes locally until shared scrapes arrive. */
  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.options.exchange.setLease(SCRAPE_LEASE, true);
    this.unsubscribe = this.options.source.subscribe((endpoints) => this.reconcile(endpoints));
    this.setScraping(true);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.options.exchange.setLease(SCRAPE_LEASE, false);
    this.unsubscribe?.();
    this.setScraping(false);
    this.store.close();
    await Promise.all([...this.stopping]);
  }

  collect(all: boolean): ChannelWrites {
    const set = new Map<string, string>();
    const ids = all ? [...this.latest.keys()] : [...this.pending];
    this.pending.clear();
    if (!this.leader) {
      // Only the leader publishes; a former leader withdraws what it published.
      const del = all ? [] : [...this.published];
      this.published.clear();
      return { set, del };
    }
    if (all) this.published.clear();
    const toShared = (ms: number): number => this.options.exchange.toShared(ms);
    for (const id of ids) {
      const s = this.latest.get(id);
      if (s === undefined || !this.members.has(id)) continue;
      this.published.add(id);
      set.set(id, JSON.stringify({ m: s.metrics ?? null, s: toShared(s.startedAt), f: toShared(s.finishedAt), ...(s.unreachable === true ? { u: 1 } : s.unresponsive === true ? { u: 2 } : {}) }));
    }
    const del: string[] = [];
    for (const id of [...this.published]) {
      if (this.members.has(id)) continue;
      this.published.delete(id);
      if (!all) del.push(id);
    }
    return { set, del };
  }

  apply(view: PeerView): void {
    if (this.state !== 'running') return;
    this.leader = view.connected && this.options.exchange.currentLeaseHolder === this.options.exchange.origin;
    if (view.connected) this.applyShared(view);
    const now = this.clock.now();
    let fresh = view.connected && this.members.size > 0;
    for (const id of this.members.keys()) {
      const seen = this.sharedSeenAt.get(id);
      if (seen === undefined || now - seen > this.options.staleAfterMs) fresh = false;
    }
    // The leader scrapes; so does everyone while the exchange is down or the shared scrapes are not fresh.
    this.setScraping(this.leader || !fresh);
  }

  private applyShared(view: PeerView): void {
    const newest = new Map<string, SharedScrape>();
    for (const fields of view.peers.values()) {
      for (const [id, value] of fields) {
        if (!this.members.has(id)) continue;
        const s = parseScrape(value, view.toLocal);
        if (s === undefined) continue;
        const best = newest.get(id);
        if (best === undefined || s.finishedAt > best.finishedAt) newest.set(id, s);
      }
    }
    // One snapshot for the whole sync (each write would publish its own: O(n) each).
    this.store.batch(() => {
      for (const [id, s] of newest) {
        this.sharedSeenAt.set(id, Math.max(this.sharedSeenAt.get(id) ?? Number.NEGATIVE_INFINITY, s.finishedAt));
        if (s.finishedAt <= (this.appliedAt.get(id) ?? Number.NEGATIVE_INFINITY)) continue;
        this.sharedApplied++;
        this.record(id, s);
        if (s.metrics === undefined) {
          const reason = 'scrape failed (shared by the scraping replica)';
          this.options.scrapeListener.scrapeFailed?.(id, s.unreachable === true, reason, s.unresponsive === true ? 'silent' : undefined);
        }
      }
    });
  }

  /** Applies one scrape (local or shared) to the ledgers, then to the store: the order PoolMonitor keeps. */
  private record(id: string, s: SharedScrape): void {
    this.appliedAt.set(id, s.finishedAt);
    if (s.metrics !== undefined) {
      this.options.scrapeListener.markScraped(id, s.startedAt);
      this.store.recordMetrics(id, s.metrics, s.finishedAt);
    } else {
      this.store.recordFailure(id);
    }
  }

  private reconcile(endpoints: readonly EndpointSpec[]): void {
    if (this.state !== 'running') return;
    // One snapshot for the whole change, not one per upsert and remove (O(n^2) for a pool arriving at once).
    this.store.batch(() => this.reconcileInBatch(endpoints));
  }

  private reconcileInBatch(endpoints: readonly EndpointSpec[]): void {
    const wanted = new Set<string>();
    for (const spec of endpoints) {
      const id = endpointId(spec.host, spec.port);
      wanted.add(id);
      this.members.set(id, spec);
      this.store.upsert(spec);
    }
    for (const id of [...this.members.keys()]) {
      if (wanted.has(id)) continue;
      this.members.delete(id);
      this.appliedAt.delete(id);
      this.latest.delete(id);
      this.sharedSeenAt.delete(id);
      this.failureById.delete(id);
      this.store.remove(id);
      this.options.scrapeListener.forget?.(id);
    }
  }

  private setScraping(on: boolean): void {
    if (on === (this.monitor !== undefined) || (on && this.state !== 'running')) return;
    if (!on) {
      const monitor = this.monitor;
      this.monitorStop?.();
      this.monitor = undefined;
      this.monitorStop = undefined;
      if (monitor !== undefined) {
        const closing = monitor.close().finally(() => this.stopping.delete(closing));
        this.stopping.add(closing);
      }
      this.logger.debug({}, 'shared scrapes are fresh: local scraping stopped');
      return;
    }
    // PoolMonitor cannot restart once closed: each spell of local scraping gets a fresh one.
    const monitor = new PoolMonitor({
      ...this.options.scrape,
      source: this.options.source,
      clock: this.clock,
      logger: this.logger,
      scrapeListener: {
        markScraped: (id, takenAt) => this.startedAtById.set(id, takenAt),
        scrapeFailed: (id, unreachable, reason, cause) => {
          this.failureById.set(id, { unreachable, unresponsive: !unreachable && cause === 'silent' });
          this.options.scrapeListener.scrapeFailed?.(id, unreachable, reason, cause);
        },
      },
    });
    this.monitor = monitor;
    // What the last snapshot said of each endpoint, by its snapshot object (immutable: an unchanged endpoint keeps
    // it), so finding what changed allocates nothing: at 1,000 endpoints a snapshot comes ~500 times a second, and
    // a record per endpoint per snapshot made 500,000 objects a second. Unchanged positions cost one comparison.
    const last = new Map<string, EndpointSnapshot>();
    let previous: readonly EndpointSnapshot[] = [];
    // The local monitor's snapshot (one per worker batch or loop turn) lands in this store as one snapshot too.
    this.monitorStop = monitor.pool.subscribe((snapshot: PoolSnapshot) => this.store.batch(() => {
      const endpoints = snapshot.endpoints;
      const aligned = endpoints.length === previous.length;
      for (let i = 0; i < endpoints.length; i++) {
        const e = endpoints[i];
        if (e === undefined || (aligned && previous[i] === e)) continue;
        const before = last.get(e.id);
        if (before === e) continue;
        last.set(e.id, e);
        if (e.scrapedAt !== undefined && e.scrapedAt !== before?.scrapedAt && e.metrics !== undefined) {
          const startedAt = this.startedAtById.get(e.id) ?? e.scrapedAt;
          this.localScraped(e.id, { metrics: e.metrics, startedAt, finishedAt: e.scrapedAt });
        } else if (e.stale && before !== undefined && !before.stale && e.scrapedAt === before.scrapedAt && !this.timedOut(e.scrapedAt)) {
          // A failed scrape (not the store's staleness timer): the endpoint is stale for everyone.
          const now = this.clock.now();
          this.localScraped(e.id, { metrics: undefined, ...this.failureById.get(e.id), startedAt: now, finishedAt: now });
        }
      }
      // Endpoints that left: forgotten when the pool shrank below what is remembered (O(endpoints), on such changes only).
      if (last.size > endpoints.length) {
        const live = new Set(endpoints.map((e) => e.id));
        for (const id of last.keys()) if (!live.has(id)) last.delete(id);
      }
      previous = endpoints;
    }));
    void monitor.start().catch((err: unknown) => this.logger.error({ err }, 'local scraping failed to start'));
  }

  /** The local store marks an endpoint stale by timer once its metrics age past the limit; not a failed scrape. */
  private timedOut(scrapedAt: number | undefined): boolean {
    return scrapedAt !== undefined && this.clock.now() - scrapedAt >= this.options.staleAfterMs;
  }

  private localScraped(id: string, s: SharedScrape): void {
    if (!this.members.has(id)) return;
    this.localScrapes++;
    this.latest.set(id, s);
    this.pending.add(id);
    if (s.finishedAt > (this.appliedAt.get(id) ?? Number.NEGATIVE_INFINITY) || s.metrics === undefined) this.record(id, s);
  }
}

function parseScrape(value: string, toLocal: (ms: number) => number): SharedScrape | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as { m?: unknown; s?: unknown; f?: unknown; u?: unknown };
  if (typeof r.s !== 'number' || typeof r.f !== 'number') return undefined;
  const metrics = isMetrics(r.m) ? r.m : undefined;
  return { metrics, startedAt: toLocal(r.s), finishedAt: toLocal(r.f), ...(metrics === undefined && r.u === 1 ? { unreachable: true } : metrics === undefined && r.u === 2 ? { unresponsive: true } : {}) };
}

function isMetrics(m: unknown): m is EndpointMetrics {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  return (
    typeof x.waitingQueue === 'number' &&
    typeof x.runningRequests === 'number' &&
    typeof x.kvCacheUsage === 'number' &&
    Array.isArray(x.loraRunning) &&
    Array.isArray(x.loraWaiting) &&
    typeof x.maxLora === 'number'
  );
}
