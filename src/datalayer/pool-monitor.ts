// Pool monitor: follows an EndpointSource, runs one scraper per endpoint, and feeds results into the
// PoolStore (and the in-flight tracker's scrape marks). Owns every timer and socket it creates.
import {
  type Clock,
  type Logger,
  type Random,
  ClosedError,
  mathRandom,
  noopLogger,
  requirePositive,
  systemClock,
} from '../core/index.js';
import { type PoolView, endpointId } from './endpoint.js';
import { type EndpointSource, type EndpointSpec } from './endpoint-source.js';
import { type EngineMetricNames, type EngineName, DEFAULT_ENGINE_METRICS } from './engine-metrics.js';
import { type ScrapeListener } from './inflight.js';
import {
  type HttpMetricsFetcherOptions,
  type MetricsFetcherFactory,
  httpMetricsFetcherFactory,
} from './metrics-fetcher.js';
import {
  type ScrapeOutcome,
  DEFAULT_SCRAPE_INTERVAL_MS,
  DEFAULT_SCRAPE_TIMEOUT_MS,
  MetricsScraper,
} from './metrics-scraper.js';
import { PoolStore, DEFAULT_STALE_AFTER_MS } from './pool-store.js';
import { type ScrapeFailureReason } from './scrape-failure.js';

/** Told of every failed scrape (for a counter by reason); consumer-owned port kept here beside its producer. */
export interface ScrapeObserver {
  onScrapeFailure(endpointId: string, reason: ScrapeFailureReason): void;
}

export const DEFAULT_METRICS_PATH = '/metrics';
export const DEFAULT_ENGINE: EngineName = 'vllm';

export interface PoolMonitorOptions {
  readonly source: EndpointSource;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default noopLogger */
  readonly logger?: Logger;
  /** @default httpMetricsFetcherFactory(fetch) (undici, keep-alive, one connection per endpoint) */
  readonly fetcherFactory?: MetricsFetcherFactory;
  /** How the default fetcher talks to model servers: scheme, TLS, bearer token, body limit. */
  readonly fetch?: HttpMetricsFetcherOptions;
  /** @default DEFAULT_SCRAPE_INTERVAL_MS (50) */
  readonly scrapeIntervalMs?: number;
  /**
   * Never longer than the staleness limit (lowered to it when larger): a scrape still running when the
   * endpoint's metrics go stale is failing, and saying so early frees its connection for the next attempt.
   * @default staleAfterMs
   */
  readonly scrapeTimeoutMs?: number;
  /** Longest wait between attempts at a failing endpoint. @default DEFAULT_MAX_BACKOFF_MS (1000) */
  readonly maxBackoffMs?: number;
  /** Backoff jitter. @default mathRandom */
  readonly random?: Random;
  readonly observer?: ScrapeObserver;
  /** @default DEFAULT_STALE_AFTER_MS (200) */
  readonly staleAfterMs?: number;
  /** @default DEFAULT_METRICS_PATH */
  readonly metricsPath?: string;
  /** Engine of endpoints that do not name one. @default 'vllm' */
  readonly defaultEngine?: EngineName;
  /** Per-engine metric names replacing the built-in ones (e.g. a renamed vLLM family). */
  readonly engineMetrics?: Partial<Record<EngineName, EngineMetricNames>>;
  /** Usually the InflightTracker: told of each good scrape before the new snapshot is published. */
  readonly scrapeListener?: ScrapeListener;
  /**
   * Spread first scrapes evenly over one interval, so a large pool does not scrape in lock-step bursts.
   * @default true
   */
  readonly staggerStart?: boolean;
}

interface Member {
  readonly spec: EndpointSpec;
  readonly scraper: MetricsScraper;
}

export class PoolMonitor {
  private readonly store: PoolStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly fetcherFactory: MetricsFetcherFactory;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly random: Random;
  /** Outcomes waiting for the next deferred flush: many scrapes finishing together publish one snapshot. */
  private pending: { id: string; outcome: ScrapeOutcome }[] = [];
  private flushScheduled = false;
  private readonly members = new Map<string, Member>();
  /** Scrapers being stopped; close() waits for them so no socket outlives the monitor. */
  private readonly stopping = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private state: 'new' | 'running' | 'closed' = 'new';
  private closing: Promise<void> | undefined;

  constructor(private readonly options: PoolMonitorOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? noopLogger;
    this.fetcherFactory = options.fetcherFactory ?? httpMetricsFetcherFactory(options.fetch);
    this.intervalMs = requirePositive('scrapeIntervalMs', options.scrapeIntervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS);
    const staleAfterMs = requirePositive('staleAfterMs', options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS);
    const timeoutMs = requirePositive('scrapeTimeoutMs', options.scrapeTimeoutMs ?? Math.min(DEFAULT_SCRAPE_TIMEOUT_MS, staleAfterMs));
    if (timeoutMs > staleAfterMs) {
      this.logger.warn({ scrapeTimeoutMs: timeoutMs, staleAfterMs }, 'scrape timeout lowered to the staleness limit');
    }
    this.timeoutMs = Math.min(timeoutMs, staleAfterMs);
    this.random = options.random ?? mathRandom;
    this.store = new PoolStore({ clock: this.clock, logger: this.logger, staleAfterMs });
  }

  /** The published pool: immutable snapshots, O(1) to read. */
  get pool(): PoolView {
    return this.store;
  }

  /** Subscribes to the source and starts scraping. Idempotent. */
  async start(): Promise<void> {
    if (this.state === 'closed') throw new ClosedError('pool monitor');
    if (this.state === 'running') return;
    this.state = 'running';
    this.unsubscribe = this.options.source.subscribe((endpoints) => this.reconcile(endpoints));
  }

  /** Stops every scraper, closes every connection and timer. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closed';
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const id of [...this.members.keys()]) this.removeMember(id);
    this.store.close();
    await Promise.all([...this.stopping]);
  }

  /** Diffs the full list against current members: O(n) per source update. */
  private reconcile(endpoints: readonly EndpointSpec[]): void {
    if (this.state !== 'running') return;
    const wanted = new Map<string, EndpointSpec>();
    for (const spec of endpoints) wanted.set(endpointId(spec.host, spec.port), spec);
    for (const id of [...this.members.keys()]) {
      if (!wanted.has(id)) this.removeMember(id);
    }
    let index = 0;
    for (const [id, spec] of wanted) {
      const member = this.members.get(id);
      // A source that republishes unchanged specs as the same objects (the Kubernetes source does) costs a lookup.
      if (member !== undefined && member.spec === spec) {
        index++;
        continue;
      }
      if (member !== undefined && scrapeConfigEqual(member.spec, spec)) {
        this.members.set(id, { spec, scraper: member.scraper });
        this.store.upsert(spec); // labels may have changed; metrics are kept
      } else {
        if (member !== undefined) this.removeMember(id);
        this.addMember(id, spec, index);
      }
      index++;
    }
  }

  private addMember(id: string, spec: EndpointSpec, index: number): void {
    const engine = spec.engine ?? this.options.defaultEngine ?? DEFAULT_ENGINE;
    const names = this.options.engineMetrics?.[engine] ?? DEFAULT_ENGINE_METRICS[engine];
    const fetcher = this.fetcherFactory({
      host: spec.host,
      port: spec.port,
      path: spec.metricsPath ?? this.options.metricsPath ?? DEFAULT_METRICS_PATH,
    });
    this.store.upsert(spec);
    const scraper = new MetricsScraper({
      endpointId: id,
      fetcher,
      names,
      clock: this.clock,
      logger: this.logger,
      random: this.random,
      intervalMs: this.intervalMs,
      timeoutMs: this.timeoutMs,
      ...(this.options.maxBackoffMs !== undefined ? { maxBackoffMs: this.options.maxBackoffMs } : {}),
      onOutcome: (outcome) => this.enqueue(id, outcome),
    });
    this.members.set(id, { spec, scraper });
    const stagger = this.options.staggerStart ?? true;
    // Golden-ratio spacing spreads any number of endpoints evenly without knowing the final count.
    scraper.start(stagger ? ((index * 0.618_033_988_75) % 1) * this.intervalMs : 0);
  }

  private removeMember(id: string): void {
    const member = this.members.get(id);
    if (member === undefined) return;
    this.members.delete(id);
    this.store.remove(id);
    this.options.scrapeListener?.forget?.(id);
    const stopped = member.scraper.stop().finally(() => this.stopping.delete(stopped));
    this.stopping.add(stopped);
  }

  private enqueue(id: string, outcome: ScrapeOutcome): void {
    if (!outcome.ok) this.options.observer?.onScrapeFailure(id, outcome.reason);
    this.pending.push({ id, outcome });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // After the I/O of this loop turn: every scrape that finished in it lands in one snapshot.
    this.clock.defer(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (this.state !== 'running') return;
    this.store.batch(() => {
      for (const { id, outcome } of batch) this.apply(id, outcome);
    });
  }

  /** In-flight marks and snapshot land in the same flush, so no reader sees one without the other. */
  private apply(id: string, outcome: ScrapeOutcome): void {
    if (this.members.get(id) === undefined) return;
    if (outcome.ok) {
      this.options.scrapeListener?.markScraped(id, outcome.startedAt);
      this.store.recordMetrics(id, outcome.metrics, outcome.finishedAt);
    } else {
      // Before the store publishes, so a snapshot listener can read how the scrape failed.
      this.options.scrapeListener?.scrapeFailed?.(id, outcome.unreachable, `${outcome.reason}: ${outcome.detail}`);
      this.store.recordFailure(id, outcome.reason, outcome.finishedAt);
    }
  }
}

function scrapeConfigEqual(a: EndpointSpec, b: EndpointSpec): boolean {
  return a.engine === b.engine && a.metricsPath === b.metricsPath;
}
