// Pool monitor: follows an EndpointSource, runs one scraper per endpoint, and feeds results into the
// PoolStore (and the in-flight tracker's scrape marks). Owns every timer and socket it creates.
import {
  type Clock,
  type Logger,
  type Random,
  ClosedError,
  InvalidArgumentError,
  SystemClock,
  mathRandom,
  noopLogger,
  requirePositive,
  systemClock,
} from '../core/index.js';
import { type AdaptiveIntervalOptions, validateAdaptiveInterval } from './adaptive-interval.js';
import { type PoolView, endpointId } from './endpoint.js';
import { type EndpointSource, type EndpointSpec } from './endpoint-source.js';
import { type EngineMetricNames, type EngineName, DEFAULT_ENGINE_METRICS, NAME_FILTER_ENGINES, familiesOf } from './engine-metrics.js';
import { type ScrapeListener } from './inflight.js';
import {
  type HttpMetricsFetcherOptions,
  type MetricsFetcherFactory,
  httpMetricsFetcherFactory,
} from './metrics-fetcher.js';
import { type ScrapeOutcome, DEFAULT_SCRAPE_INTERVAL_MS, DEFAULT_SCRAPE_TIMEOUT_MS } from './metrics-scraper.js';
import { PoolStore, DEFAULT_STALE_AFTER_MS } from './pool-store.js';
import { type ScrapeFailureReason, isUnreachableReason } from './scrape-failure.js';
import { type BatchListener, type ScrapeJob, type ScrapeRunner, InThreadScrapeRunner } from './scrape-runner.js';
import { WorkerScrapeRunner } from './worker-scrape-runner.js';

/** Told of every failed scrape (for a counter by reason); consumer-owned port kept here beside its producer. */
export interface ScrapeObserver {
  onScrapeFailure(endpointId: string, reason: ScrapeFailureReason): void;
  /**
   * Good scrapes merged away unapplied (a newer outcome of the endpoint superseded them while the dispatch thread
   * fell behind; see OutcomeBacklog), so a count of good scrapes can include them. Merged-away failures go to
   * onScrapeFailure like any other.
   */
  onScrapesSuperseded?(endpointId: string, count: number): void;
  /**
   * Outcomes of the endpoint, good or failed, merged away unapplied (told besides onScrapesSuperseded and
   * onScrapeFailure, which count them by kind): the dispatch thread fell behind the scrape worker.
   */
  onOutcomesMerged?(endpointId: string, count: number): void;
}

export const DEFAULT_METRICS_PATH = '/metrics';
/**
 * @default 64: from this pool size on, `scrapeThread: auto` scrapes on a worker thread. Below it a scrape costs
 * the dispatch thread well under 5% of a core; above, the event-loop delay it adds starts to show.
 */
export const AUTO_WORKER_ENDPOINTS = 64;
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
  /**
   * Scrapes in flight at once; due ones wait their turn in due order, so a scraper short of CPU scrapes every
   * endpoint less often rather than letting answers wait past their timeout. @default maxInFlightFor(pool size):
   * a quarter of the pool, at least 64
   */
  readonly maxScrapesInFlight?: number;
  /**
   * Adaptive interval: per endpoint, every `minIntervalMs` while it queues or its KV cache is near full, growing
   * towards `maxIntervalMs` while it is idle (capped below the staleness limit). Absent: every scrapeIntervalMs.
   */
  readonly adaptiveInterval?: AdaptiveIntervalOptions;
  /** Backoff jitter. @default mathRandom */
  readonly random?: Random;
  readonly observer?: ScrapeObserver;
  /**
   * Where scrapes run. `worker`: on a worker thread (sockets, parsing and timers off the dispatch thread, which
   * only applies compact results); needs the system clock and the default fetcher. `auto`: on this thread until
   * the pool first reaches AUTO_WORKER_ENDPOINTS endpoints, then on a worker thread from there on (when the
   * clock and fetcher allow it). @default 'main'
   */
  readonly scrapeThread?: 'main' | 'worker' | 'auto';
  /**
   * Added to the scrape worker thread's nice value (Linux; 0-19), so the dispatch thread wins a contended core.
   * @default DEFAULT_SCRAPE_WORKER_NICE (10)
   */
  readonly scrapeWorkerNice?: number;
  /** Run on this thread just before a scrape worker thread starts (WorkerScrapeRunnerOptions.beforeSpawn). */
  readonly beforeScrapeWorker?: () => void;
  /** @default DEFAULT_STALE_AFTER_MS (200) */
  readonly staleAfterMs?: number;
  /** @default DEFAULT_METRICS_PATH */
  readonly metricsPath?: string;
  /** Engine of endpoints that do not name one. @default 'vllm' */
  readonly defaultEngine?: EngineName;
  /** Per-engine metric names replacing the built-in ones (e.g. a renamed vLLM family). */
  readonly engineMetrics?: Partial<Record<EngineName, EngineMetricNames>>;
  /**
   * Ask model servers for the families in use only (`name[]` query parameters): a page of ~1 KB instead of ~40.
   * `auto`: for the engines in NAME_FILTER_ENGINES. A server that ignores it sends the whole page (read as
   * usual); one that drops a family in use is asked for the whole page (see MetricsScraper). @default 'auto'
   */
  readonly nameFilter?: 'auto' | 'on' | 'off';
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
  /** What the runner was given: handed again to a worker when `auto` moves scraping there. */
  readonly job: ScrapeJob;
}

export class PoolMonitor {
  private readonly store: PoolStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private runner: ScrapeRunner;
  private onWorker: boolean;
  /** Runners replaced by a move to the worker thread, still closing. */
  private readonly retired = new Set<Promise<void>>();
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly adaptive: AdaptiveIntervalOptions | undefined;
  private readonly random: Random;
  /** Outcomes waiting for the next deferred flush: many scrapes finishing together publish one snapshot. */
  private pending: { id: string; outcome: ScrapeOutcome }[] = [];
  private flushScheduled = false;
  private readonly members = new Map<string, Member>();
  private unsubscribe: (() => void) | undefined;
  private state: 'new' | 'running' | 'closed' = 'new';
  private closing: Promise<void> | undefined;

  constructor(private readonly options: PoolMonitorOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? noopLogger;
    this.intervalMs = requirePositive('scrapeIntervalMs', options.scrapeIntervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS);
    const staleAfterMs = requirePositive('staleAfterMs', options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS);
    const timeoutMs = requirePositive('scrapeTimeoutMs', options.scrapeTimeoutMs ?? Math.min(DEFAULT_SCRAPE_TIMEOUT_MS, staleAfterMs));
    if (timeoutMs > staleAfterMs) {
      this.logger.warn({ scrapeTimeoutMs: timeoutMs, staleAfterMs }, 'scrape timeout lowered to the staleness limit');
    }
    this.timeoutMs = Math.min(timeoutMs, staleAfterMs);
    this.adaptive = adaptiveWithin(options.adaptiveInterval, this.intervalMs, staleAfterMs, this.logger);
    this.random = options.random ?? mathRandom;
    this.store = new PoolStore({ clock: this.clock, logger: this.logger, staleAfterMs });
    this.onWorker = options.scrapeThread === 'worker';
    if (this.onWorker && !this.workerAllowed()) {
      throw new InvalidArgumentError('scrapeThread', 'worker', 'used with the system clock and the default fetcher only');
    }
    this.runner = this.buildRunner(this.onWorker);
  }

  /** Whether scrapes run on a worker thread now. */
  get scrapingOnWorker(): boolean {
    return this.onWorker;
  }

  private workerAllowed(): boolean {
    return this.clock instanceof SystemClock && this.options.fetcherFactory === undefined;
  }

  private buildRunner(onWorker: boolean): ScrapeRunner {
    const { options } = this;
    const timing = {
      intervalMs: this.intervalMs,
      timeoutMs: this.timeoutMs,
      ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
      ...(options.maxScrapesInFlight !== undefined ? { maxInFlight: requirePositive('maxScrapesInFlight', options.maxScrapesInFlight) } : {}),
      ...(this.adaptive !== undefined ? { adaptive: this.adaptive } : {}),
    };
    const onOutcome = (id: string, outcome: ScrapeOutcome): void => this.enqueue(id, outcome);
    if (onWorker) {
      return new WorkerScrapeRunner({
        timing,
        clock: this.clock,
        logger: this.logger,
        onBatch: (apply) => this.applyBatch(apply),
        ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
        ...(options.scrapeWorkerNice !== undefined ? { nice: options.scrapeWorkerNice } : {}),
        ...(options.beforeScrapeWorker !== undefined ? { beforeSpawn: options.beforeScrapeWorker } : {}),
      });
    }
    return new InThreadScrapeRunner({
      fetcherFactory: options.fetcherFactory ?? httpMetricsFetcherFactory(options.fetch),
      clock: this.clock,
      logger: this.logger,
      random: this.random,
      timing,
      onOutcome,
    });
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
    // One snapshot for the lot: removed one by one, each removal built and published its own.
    this.store.batch(() => {
      for (const id of [...this.members.keys()]) this.removeMember(id);
    });
    this.store.close();
    await this.runner.close();
    await Promise.all([...this.retired]);
  }

  /** Diffs the full list against current members: O(n) per source update, published as one snapshot. */
  private reconcile(endpoints: readonly EndpointSpec[]): void {
    if (this.state !== 'running') return;
    // One snapshot for the whole change: each upsert and remove would publish its own (O(n) each, O(n^2) for a
    // 1,000-endpoint pool appearing at once).
    this.store.batch(() => this.reconcileMembers(endpoints));
  }

  private reconcileMembers(endpoints: readonly EndpointSpec[]): void {
    const wanted = new Map<string, EndpointSpec>();
    for (const spec of endpoints) wanted.set(endpointId(spec.host, spec.port), spec);
    for (const id of [...this.members.keys()]) {
      if (!wanted.has(id)) this.removeMember(id);
    }
    if (this.options.scrapeThread === 'auto' && !this.onWorker && wanted.size >= AUTO_WORKER_ENDPOINTS && this.workerAllowed()) {
      this.moveToWorker();
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
        this.members.set(id, { spec, job: member.job });
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
    const target = {
      host: spec.host,
      port: spec.port,
      path: spec.metricsPath ?? this.options.metricsPath ?? DEFAULT_METRICS_PATH,
      ...(this.filters(engine) ? { names: [...familiesOf(names)] } : {}),
    };
    this.store.upsert(spec);
    const stagger = this.options.staggerStart ?? true;
    // Golden-ratio spacing spreads any number of endpoints evenly without knowing the final count.
    const initialDelayMs = stagger ? ((index * 0.618_033_988_75) % 1) * this.intervalMs : 0;
    const job: ScrapeJob = { id, target, names, initialDelayMs };
    this.members.set(id, { spec, job });
    this.runner.add(job);
  }

  private filters(engine: EngineName): boolean {
    const mode = this.options.nameFilter ?? 'auto';
    return mode === 'on' || (mode === 'auto' && NAME_FILTER_ENGINES.has(engine));
  }

  /** One way: the pool grew large, so every endpoint's scraping moves to a worker thread (new connections). */
  private moveToWorker(): void {
    const old = this.runner;
    this.onWorker = true;
    this.runner = this.buildRunner(true);
    const closing = old.close().finally(() => this.retired.delete(closing));
    this.retired.add(closing);
    for (const { job } of this.members.values()) this.runner.add(job);
    this.logger.info({ endpoints: this.members.size }, 'metrics scraping moved to a worker thread');
  }

  private removeMember(id: string): void {
    const member = this.members.get(id);
    if (member === undefined) return;
    this.members.delete(id);
    this.store.remove(id);
    this.options.scrapeListener?.forget?.(id);
    void this.runner.remove(id);
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

  /**
   * A batch from the worker thread is applied as it arrives, in one snapshot: it already holds everything the
   * worker finished in its last few milliseconds, so queueing its outcomes one by one for a deferred flush only
   * cost an object each and another trip through the event loop. Anything still queued goes first (order kept).
   */
  private applyBatch(apply: Parameters<BatchListener>[0]): void {
    if (this.state !== 'running') return;
    this.store.batch(() => {
      if (this.pending.length > 0) {
        const queued = this.pending;
        this.pending = [];
        for (const { id, outcome } of queued) this.apply(id, outcome);
      }
      apply(this.applyOne, this.countSuperseded);
    });
  }

  private readonly countSuperseded = (id: string, kind: 'ok' | ScrapeFailureReason, count: number): void => {
    const observer = this.options.observer;
    if (observer === undefined) return;
    observer.onOutcomesMerged?.(id, count);
    if (kind === 'ok') observer.onScrapesSuperseded?.(id, count);
    else for (let i = 0; i < count; i++) observer.onScrapeFailure(id, kind);
  };

  private readonly applyOne = (id: string, outcome: ScrapeOutcome): void => {
    if (!outcome.ok) this.options.observer?.onScrapeFailure(id, outcome.reason);
    this.apply(id, outcome);
  };

  /** In-flight marks and snapshot land in the same flush, so no reader sees one without the other. */
  private apply(id: string, outcome: ScrapeOutcome): void {
    if (this.members.get(id) === undefined) return;
    if (outcome.ok) {
      this.options.scrapeListener?.markScraped(id, outcome.startedAt);
      this.store.recordMetrics(id, outcome.metrics, outcome.finishedAt);
    } else {
      // Before the store publishes, so a snapshot listener can read how the scrape failed.
      this.options.scrapeListener?.scrapeFailed?.(id, isUnreachableReason(outcome.reason), `${outcome.reason}: ${outcome.detail}`, outcome.reason);
      this.store.recordFailure(id, outcome.reason);
    }
  }
}

/**
 * The adaptive bounds checked against the interval, the longest one lowered to half the staleness limit: an idle
 * endpoint must be scraped again (and may miss one scrape) before its metrics count as stale.
 */
function adaptiveWithin(options: AdaptiveIntervalOptions | undefined, intervalMs: number, staleAfterMs: number, logger: Logger): AdaptiveIntervalOptions | undefined {
  if (options === undefined) return undefined;
  const cap = Math.max(intervalMs, staleAfterMs / 2);
  const bounded = options.maxIntervalMs > cap ? { ...options, maxIntervalMs: cap } : options;
  if (bounded !== options) logger.warn({ maxIntervalMs: options.maxIntervalMs, staleAfterMs }, 'adaptive maxIntervalMs lowered to half the staleness limit');
  validateAdaptiveInterval(bounded, intervalMs);
  return bounded;
}

function scrapeConfigEqual(a: EndpointSpec, b: EndpointSpec): boolean {
  return a.engine === b.engine && a.metricsPath === b.metricsPath;
}
