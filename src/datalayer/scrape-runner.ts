// Where scrapes run: a ScrapeRunner owns one scrape loop per endpoint and reports outcomes. The in-thread runner
// runs them on the caller's event loop; the worker runner (worker-scrape-runner.ts) runs this same in-thread
// runner inside a worker thread, so the dispatch thread only applies compact results.
import { type Clock, type Logger, type Random } from '../core/index.js';
import { type AdaptiveIntervalOptions } from './adaptive-interval.js';
import { type EngineMetricNames } from './engine-metrics.js';
import { type MetricsFetcherFactory, type MetricsTarget } from './metrics-fetcher.js';
import { type ScrapeOutcome, MetricsScraper } from './metrics-scraper.js';
import { type ScrapeFailureReason } from './scrape-failure.js';
import { ScrapeScheduler } from './scrape-scheduler.js';

export interface ScrapeJob {
  /** Endpoint id (`host:port`), for outcomes and log lines. */
  readonly id: string;
  readonly target: MetricsTarget;
  readonly names: EngineMetricNames;
  /** Delay before the first scrape (spreads a large pool over the interval). */
  readonly initialDelayMs: number;
}

export interface ScrapeTiming {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly maxBackoffMs?: number;
  /** Scrapes in flight at once. @default maxInFlightFor(endpoints) */
  readonly maxInFlight?: number;
  /** Adaptive interval bounds; absent: a fixed interval. */
  readonly adaptive?: AdaptiveIntervalOptions;
}

export interface ScrapeRunner {
  /** Starts scraping an endpoint; an id already running is replaced. */
  add(job: ScrapeJob): void;
  /** Stops an endpoint's scraping; no outcome of it is reported after this returns. Resolves once its socket closed. */
  remove(id: string): Promise<void>;
  /** Stops everything; resolves once every socket (and thread) is closed. Idempotent. */
  close(): Promise<void>;
}

export type OutcomeListener = (id: string, outcome: ScrapeOutcome) => void;

/**
 * Told of `count` outcomes of an endpoint that were merged away before being applied (a newer outcome of the same
 * endpoint superseded them; see OutcomeBacklog): `'ok'` for good scrapes, else the failure's reason. They are to be
 * counted, not applied.
 */
export type SupersededListener = (id: string, kind: 'ok' | ScrapeFailureReason, count: number) => void;

/**
 * Takes a whole batch of outcomes (a worker's message): `apply` reports each of them, synchronously, to the
 * listener it is given, so the receiver can apply them in one go (one snapshot, no per-outcome queueing), and
 * those merged away to `superseded`.
 */
export type BatchListener = (apply: (emit: OutcomeListener, superseded: SupersededListener) => void) => void;

export interface InThreadScrapeRunnerOptions {
  readonly fetcherFactory: MetricsFetcherFactory;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: Random;
  readonly timing: ScrapeTiming;
  readonly onOutcome: OutcomeListener;
}

/**
 * One MetricsScraper per endpoint on this thread's event loop, all timed by one ScrapeScheduler. add/remove are
 * O(log n).
 */
export class InThreadScrapeRunner implements ScrapeRunner {
  private readonly scrapers = new Map<string, MetricsScraper>();
  private readonly stopping = new Set<Promise<void>>();
  private readonly scheduler: ScrapeScheduler;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: InThreadScrapeRunnerOptions) {
    const { timeoutMs, maxInFlight } = options.timing;
    this.scheduler = new ScrapeScheduler({ clock: options.clock, timeoutMs, ...(maxInFlight !== undefined ? { maxInFlight } : {}) });
  }

  add(job: ScrapeJob): void {
    if (this.closing !== undefined) return;
    void this.remove(job.id);
    const { clock, logger, random, timing, onOutcome } = this.options;
    const scraper = new MetricsScraper({
      endpointId: job.id,
      fetcher: this.options.fetcherFactory(job.target),
      names: job.names,
      clock,
      logger,
      random,
      intervalMs: timing.intervalMs,
      timeoutMs: timing.timeoutMs,
      scheduler: this.scheduler,
      filtered: job.target.names !== undefined && job.target.names.length > 0,
      ...(timing.adaptive !== undefined ? { adaptive: timing.adaptive } : {}),
      ...(timing.maxBackoffMs !== undefined ? { maxBackoffMs: timing.maxBackoffMs } : {}),
      onOutcome: (outcome) => onOutcome(job.id, outcome),
    });
    this.scrapers.set(job.id, scraper);
    scraper.start(job.initialDelayMs);
  }

  remove(id: string): Promise<void> {
    const scraper = this.scrapers.get(id);
    if (scraper === undefined) return Promise.resolve();
    this.scrapers.delete(id);
    const stopped = scraper.stop().finally(() => this.stopping.delete(stopped));
    this.stopping.add(stopped);
    return stopped;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const id of [...this.scrapers.keys()]) void this.remove(id);
      await Promise.all([...this.stopping]);
      this.scheduler.close();
    })();
    return this.closing;
  }
}
