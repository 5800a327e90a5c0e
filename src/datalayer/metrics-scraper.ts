// Per-endpoint scrape loop: fetch into the streaming page reader, extract, report. Never two scrapes of one
// endpoint at once; a timeout through the injected Clock; failing endpoints back off with jitter and return to
// the normal interval on their first good answer; failures logged once per change of reason, not per scrape.
import { type Clock, type Logger, type Random, mathRandom, requirePositive } from '../core/index.js';
import { type AdaptiveIntervalOptions, AdaptiveInterval } from './adaptive-interval.js';
import { type EndpointMetrics } from './endpoint.js';
import { type EngineMetricNames, type PageSamples, familiesOf, isUnusable, readEndpointMetrics } from './engine-metrics.js';
import { type MetricsFetcher } from './metrics-fetcher.js';
import { MetricsPageReader, type PageReadResult } from './metrics-page-reader.js';
import { type PromSample } from './prometheus-text.js';
import { type ScrapeFailureReason, ScrapeFailure, toScrapeFailure } from './scrape-failure.js';
import { type ScheduledScrape, type ScrapeTask, ScrapeScheduler } from './scrape-scheduler.js';

/** @default 50 ms, as the Go EPP. */
export const DEFAULT_SCRAPE_INTERVAL_MS = 50;
/** @default 1 s, as the Go EPP; the pool monitor lowers it to the staleness limit. */
export const DEFAULT_SCRAPE_TIMEOUT_MS = 1_000;
/** @default 1 s: the longest wait between attempts at a failing endpoint, so a restarted pod is back within it. */
export const DEFAULT_MAX_BACKOFF_MS = 1_000;
/** @default 100: one scrape in this many reads the whole page (at 50 ms: every 5 s). */
export const DEFAULT_FULL_READ_EVERY = 100;
/**
 * @default 1,000 (50 s at 50 ms): after a filtered page (`name[]`) fell short and the whole page was asked for in
 * the same scrape (whatever it gave), this many scrapes ask for the whole page before the filter is tried again.
 */
export const FILTER_PAUSE_SCRAPES = 1_000;

export type ScrapeOutcome =
  | {
      readonly ok: true;
      readonly metrics: EndpointMetrics;
      /** When the request was sent: dispatches begun before this are assumed visible in the metrics. */
      readonly startedAt: number;
      readonly finishedAt: number;
    }
  | {
      readonly ok: false;
      readonly reason: ScrapeFailureReason;
      /**
       * Human-readable detail for the log line (status code, error code, metric name). Whether the endpoint
       * could be talked to at all follows from `reason` (isUnreachableReason).
       */
      readonly detail: string;
      readonly startedAt: number;
      readonly finishedAt: number;
    };

export interface MetricsScraperOptions {
  readonly endpointId: string;
  readonly fetcher: MetricsFetcher;
  readonly names: EngineMetricNames;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Backoff jitter. @default mathRandom */
  readonly random?: Random;
  /** Called after every scrape, in order; exceptions are logged and swallowed. */
  readonly onOutcome: (outcome: ScrapeOutcome) => void;
  /** Start-to-start period; a slow scrape delays the next one instead of overlapping it. @default 50 */
  readonly intervalMs?: number;
  /** @default 1000 */
  readonly timeoutMs?: number;
  /** @default DEFAULT_MAX_BACKOFF_MS (never below the interval) */
  readonly maxBackoffMs?: number;
  /** @default DEFAULT_FULL_READ_EVERY */
  readonly fullReadEvery?: number;
  /** The thread's scheduler, shared by every endpoint (its timeout must equal `timeoutMs`); absent: its own. */
  readonly scheduler?: ScrapeScheduler;
  /** Scrape faster near saturation and slower when idle, within these bounds; absent: every `intervalMs`. */
  readonly adaptive?: AdaptiveIntervalOptions;
  /**
   * The fetcher's target names the families in use (`name[]`), so its answers may be filtered pages. @default false
   */
  readonly filtered?: boolean;
}

type Health = { readonly kind: 'unknown' | 'ok' } | { readonly kind: 'failing'; readonly reason: ScrapeFailureReason };

/**
 * Filtered pages: when the target names its families (`name[]`), a filtered answer that lacks a required one,
 * is refused (HTTP 4xx, but not 401, 403 or 429) or is not a metrics page is asked for again whole within the same
 * scrape (same deadline), because servers differ: older prometheus_client ASGI apps ignore the filter (whole page,
 * read as usual), a multiprocess registry answers it with an empty page, a strict router may refuse the query or
 * route only the exact path to the metrics. Then the filter rests for FILTER_PAUSE_SCRAPES scrapes, whether the
 * whole page was good (the filter dropped families; logged once) or failed too (the filtered request bought nothing).
 *
 * Early stop: a whole-page read learns which wanted families this endpoint has; later scrapes stop reading once
 * those are complete. Families describing fixed configuration (cache geometry) do not hold reading up: they are
 * taken from whole-page reads, which come every `fullReadEvery` scrapes, after any failure, and whenever an
 * expected family went missing. A family that starts to appear later is seen at the next whole-page read.
 *
 * Timing comes from a ScrapeScheduler (one per thread, shared by every endpoint's scraper; a scraper without
 * one makes its own): no timer, promise or AbortController per scrape.
 */
export class MetricsScraper implements ScheduledScrape {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly maxBackoffMs: number;
  private readonly fullReadEvery: number;
  private readonly random: Random;
  private readonly reader: MetricsPageReader;
  private readonly staticFamilies: ReadonlySet<string>;
  private readonly scheduler: ScrapeScheduler;
  private readonly ownScheduler: boolean;
  private readonly adaptive: AdaptiveInterval | undefined;
  /** Wanted, non-static families the last whole-page read found: reading stops once these are complete. */
  private expected: ReadonlySet<string> | undefined;
  private staticSamples = new Map<string, readonly PromSample[]>();
  /** What extraction reads: the page's samples, the remembered static families standing in for absent ones. */
  private readonly pageSamples = new SamplesWithStatic();
  /** The last good metrics: handed out again while nothing in them changed (see extractEndpointMetrics). */
  private lastMetrics: EndpointMetrics | undefined;
  private sinceFullRead = 0;
  private failures = 0;
  private task: ScrapeTask | undefined;
  private startedAt = 0;
  private fullRead = false;
  /** This scrape's request named the families in use. */
  private askedFiltered = false;
  /** This scrape asked again for the whole page after a filtered one fell short. */
  private askedWholeAgain = false;
  /** Scrapes left before the filter is tried again; see FILTER_PAUSE_SCRAPES. */
  private filterPause = 0;
  /** The filter was found to drop families in use (logged once, until it works again). */
  private filterDoubted = false;
  /** Resolves stop() once the scrape in flight when it was called has ended. */
  private onIdle: (() => void) | undefined;
  private readonly onFetchDone = (failure: ScrapeFailure | undefined): void => this.complete(failure);
  private health: Health = { kind: 'unknown' };
  private started = false;
  /** Set as stop() begins (before its promise exists: an abort may end the scrape in flight synchronously). */
  private stopping = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: MetricsScraperOptions) {
    this.intervalMs = requirePositive('intervalMs', options.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS);
    this.timeoutMs = requirePositive('timeoutMs', options.timeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS);
    this.maxBackoffMs = Math.max(this.intervalMs, options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
    this.fullReadEvery = requirePositive('fullReadEvery', options.fullReadEvery ?? DEFAULT_FULL_READ_EVERY);
    this.random = options.random ?? mathRandom;
    this.reader = new MetricsPageReader({ wanted: familiesOf(options.names) });
    const cache = options.names.cacheConfig?.family;
    this.staticFamilies = new Set(cache === undefined ? [] : [cache]);
    this.adaptive = options.adaptive === undefined ? undefined : new AdaptiveInterval(this.intervalMs, options.adaptive);
    this.ownScheduler = options.scheduler === undefined;
    this.scheduler = options.scheduler ?? new ScrapeScheduler({ clock: options.clock, timeoutMs: this.timeoutMs });
  }

  /** Schedules the first scrape after `initialDelayMs` (spreads a large pool's scrapes over the interval). */
  start(initialDelayMs = 0): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.task = this.scheduler.add(this, initialDelayMs);
  }

  /** Unschedules, aborts a scrape in progress, waits for it to settle and closes the fetcher. */
  stop(): Promise<void> {
    this.stopping = true;
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    const task = this.task;
    if (task !== undefined) {
      this.scheduler.remove(task);
      if (task.inFlight) {
        const idle = new Promise<void>((resolve) => (this.onIdle = resolve));
        this.options.fetcher.abort(new ScrapeFailure('other', 'scraping of this endpoint stopped'));
        await idle;
      }
    }
    if (this.ownScheduler) this.scheduler.close();
    await this.options.fetcher.close();
  }

  /** ScheduledScrape: the scheduler starts a scrape. */
  run(now: number): void {
    this.startedAt = now;
    this.fullRead = this.expected === undefined || this.sinceFullRead >= this.fullReadEvery;
    this.askedFiltered = this.options.filtered === true && this.filterPause === 0;
    if (this.filterPause > 0) this.filterPause--;
    this.askedWholeAgain = false;
    this.reader.begin(this.fullRead ? undefined : this.expected);
    this.options.fetcher.start(this.reader, this.onFetchDone, !this.askedFiltered);
  }

  /** ScheduledScrape: the scrape passed its deadline. */
  timedOut(): void {
    this.options.fetcher.abort(new ScrapeFailure('timeout', `no complete answer within ${this.timeoutMs} ms`));
  }

  private complete(failure: ScrapeFailure | undefined): void {
    const task = this.task;
    if (task === undefined || !task.inFlight) return;
    const { clock } = this.options;
    const startedAt = this.startedAt;
    if (this.stopping) {
      // removed meanwhile: publish nothing, schedule nothing
      this.scheduler.finished(task, startedAt);
      this.onIdle?.();
      return;
    }
    let outcome: ScrapeOutcome;
    if (failure === undefined) {
      try {
        outcome = this.judge(this.reader.finish(), this.fullRead, startedAt);
      } catch (err: unknown) {
        const f = toScrapeFailure(err);
        outcome = failed(f.reason, f.message, startedAt, clock.now());
      }
    } else {
      outcome = failed(failure.reason, failure.message, startedAt, clock.now());
    }
    // A server error (5xx) is not about the query, nor are a refused credential (401, 403) or a rate limit (429):
    // asking again whole would double the requests to an endpoint that answers every one the same way. Another
    // refusal (4xx), something other than metrics (a router matching the exact path) or a page short of a family
    // may be about the query.
    const status = failure?.status;
    const refused = status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 429;
    if (this.askedFiltered && (refused || (!outcome.ok && (outcome.reason === 'missing-metric' || outcome.reason === 'wrong-type')))) {
      this.askWholePage();
      return;
    }
    if (this.askedWholeAgain) this.judgeFilter(outcome);
    else if (outcome.ok && this.askedFiltered) this.filterDoubted = false;
    if (!outcome.ok) this.expected = undefined; // the next attempt reads the whole page again
    this.logTransition(outcome);
    try {
      this.options.onOutcome(outcome);
    } catch (err: unknown) {
      this.options.logger.error({ endpoint: this.options.endpointId, err }, 'scrape listener threw');
    }
    this.failures = outcome.ok ? 0 : this.failures + 1;
    this.scheduler.finished(task, startedAt + this.nextDelay(outcome));
  }

  /** The filtered answer fell short: the same scrape asks for the whole page (the deadline stays the first's). */
  private askWholePage(): void {
    this.askedFiltered = false;
    this.askedWholeAgain = true;
    this.fullRead = true;
    this.expected = undefined;
    this.startedAt = this.options.clock.now();
    this.reader.begin(undefined);
    this.options.fetcher.start(this.reader, this.onFetchDone, true);
  }

  /** After a whole-page retry: a good page means the filter dropped what it should have kept. */
  private judgeFilter(outcome: ScrapeOutcome): void {
    // A failed whole page rests the filter too: the filtered request bought nothing, and an endpoint failing both
    // ways (a wrong metrics path: 404 to both) would otherwise cost two requests an attempt for as long as it fails.
    this.filterPause = FILTER_PAUSE_SCRAPES;
    if (!outcome.ok || this.filterDoubted) return;
    this.filterDoubted = true;
    this.options.logger.info(
      { endpoint: this.options.endpointId, pauseScrapes: FILTER_PAUSE_SCRAPES },
      'filtered metrics page (name[]) lacked families the whole page has; asking for the whole page',
    );
  }

  private judge(page: PageReadResult, fullRead: boolean, startedAt: number): ScrapeOutcome {
    const finishedAt = this.options.clock.now();
    if (page.wrongTypes.length > 0) {
      return failed('wrong-type', `declared ${page.wrongTypes.join(', ')}`, startedAt, finishedAt);
    }
    if (fullRead) {
      this.sinceFullRead = 0;
      this.expected = new Set([...page.found].filter((n) => !this.staticFamilies.has(n)));
      this.staticSamples = new Map();
      for (const name of this.staticFamilies) {
        // Copied: the reader's lists are its own, rewritten by its next page.
        const samples = page.samples.get(name);
        if (samples !== undefined) this.staticSamples.set(name, samples.slice());
      }
    } else {
      this.sinceFullRead++;
      // An expected family is missing: learn the page's layout again. (Reading to the end with all of them
      // found is a page that ends with them: a filtered one, which has nothing else.)
      if (!page.stoppedEarly && !foundAll(this.expected, page.found)) this.expected = undefined;
    }
    const samples = this.pageSamples;
    samples.page = page.samples;
    samples.statics = this.staticSamples;
    const extracted = readEndpointMetrics(samples, this.options.names, this.lastMetrics);
    if (!isUnusable(extracted)) {
      this.lastMetrics = extracted;
      return { ok: true, metrics: extracted, startedAt, finishedAt };
    }
    // Lines that were not metrics where the wanted ones should be: call the page garbage, not incomplete.
    const reason = extracted.reason === 'missing-metric' && (page.badWantedLines > 0 || page.invalidLines > 0) ? 'garbage' : extracted.reason;
    const detail = page.invalidLines > 0 ? `${extracted.detail} (${page.invalidLines} lines are not metrics)` : extracted.detail;
    return failed(reason, detail, startedAt, finishedAt);
  }

  /**
   * Start-to-start delay: the interval (or the adaptive one) while healthy, the interval after the first failure
   * (a blip costs nothing), then
   * doubling per failure up to the cap, with "equal jitter" (half fixed, half random) so a pool that failed
   * together does not retry in lock-step.
   */
  private nextDelay(outcome: ScrapeOutcome): number {
    if (outcome.ok) return this.adaptive?.next(outcome.metrics) ?? this.intervalMs;
    this.adaptive?.reset();
    if (this.failures <= 1) return this.intervalMs;
    const ceiling = Math.min(this.maxBackoffMs, this.intervalMs * 2 ** Math.min(this.failures - 1, 30));
    return ceiling / 2 + (ceiling / 2) * this.random.next();
  }


  private logTransition(outcome: ScrapeOutcome): void {
    const previous = this.health;
    if (outcome.ok) {
      if (previous.kind === 'ok') return;
      this.health = { kind: 'ok' };
      if (previous.kind === 'failing') {
        this.options.logger.info({ endpoint: this.options.endpointId }, 'metrics scrape recovered');
      }
      return;
    }
    if (previous.kind === 'failing' && previous.reason === outcome.reason) return;
    this.health = { kind: 'failing', reason: outcome.reason };
    this.options.logger.warn(
      { endpoint: this.options.endpointId, reason: outcome.reason, detail: outcome.detail },
      'metrics scrape failing',
    );
  }
}

/**
 * A page's samples where a static family it lacks (stopped early before it, or a filtered page without it) reads
 * as the last whole-page read had it; one per scraper, pointed at each page in turn (no per-scrape map or merge).
 */
class SamplesWithStatic implements PageSamples {
  page: ReadonlyMap<string, readonly PromSample[]> = new Map();
  statics: ReadonlyMap<string, readonly PromSample[]> = new Map();

  get samples(): this {
    return this;
  }

  get(name: string): readonly PromSample[] | undefined {
    return this.page.get(name) ?? this.statics.get(name);
  }
}

function foundAll(expected: ReadonlySet<string> | undefined, found: ReadonlySet<string>): boolean {
  if (expected === undefined) return false;
  for (const name of expected) if (!found.has(name)) return false;
  return true;
}

function failed(reason: ScrapeFailureReason, detail: string, startedAt: number, finishedAt: number): ScrapeOutcome {
  return { ok: false, reason, detail, startedAt, finishedAt };
}
