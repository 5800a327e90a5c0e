// Frozen copy of this file from src/datalayer at 618991f (before issue 14), kept so bench/datalayer can measure
// the old scraper beside the new one in the same run. Not used by Fairway itself.
// Per-endpoint scrape loop: fetch, parse, extract, report; never two scrapes at once, timeout through the
// injected Clock, and failures logged on state transitions only (a dead pod would otherwise log 20 lines/s).
import { type Clock, type Logger, type TimerHandle, describe, requirePositive } from '../../../src/core/index.js';
import { type EndpointMetrics } from '../../../src/datalayer/endpoint.js';
import { type EngineMetricNames, extractEndpointMetrics, familiesOf } from '../../../src/datalayer/engine-metrics.js';
import { type MetricsFetcher } from './metrics-fetcher.js';
import { parsePrometheusText } from '../../../src/datalayer/prometheus-text.js';

/** @default 50 ms, as the Go EPP. */
export const DEFAULT_SCRAPE_INTERVAL_MS = 50;
/** @default 1 s, as the Go EPP. */
export const DEFAULT_SCRAPE_TIMEOUT_MS = 1_000;

export type ScrapeOutcome =
  | {
      readonly ok: true;
      readonly metrics: EndpointMetrics;
      /** When the request was sent: dispatches begun before this are assumed visible in the metrics. */
      readonly startedAt: number;
      readonly finishedAt: number;
    }
  | { readonly ok: false; readonly reason: string; readonly startedAt: number; readonly finishedAt: number };

export interface MetricsScraperOptions {
  readonly endpointId: string;
  readonly fetcher: MetricsFetcher;
  readonly names: EngineMetricNames;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called after every scrape, in order; exceptions are logged and swallowed. */
  readonly onOutcome: (outcome: ScrapeOutcome) => void;
  /** Start-to-start period; a slow scrape delays the next one instead of overlapping it. @default 50 */
  readonly intervalMs?: number;
  /** @default 1000 */
  readonly timeoutMs?: number;
}

class ScrapeTimeout extends Error {}

type Health = 'unknown' | 'ok' | 'failing';

export class MetricsScraper {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly keep: ReadonlySet<string>;
  private timer: TimerHandle | undefined;
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  private health: Health = 'unknown';
  private started = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: MetricsScraperOptions) {
    this.intervalMs = requirePositive('intervalMs', options.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS);
    this.timeoutMs = requirePositive('timeoutMs', options.timeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS);
    this.keep = familiesOf(options.names);
  }

  /** Schedules the first scrape after `initialDelayMs` (spreads a large pool's scrapes over the interval). */
  start(initialDelayMs = 0): void {
    if (this.started || this.stopped !== undefined) return;
    this.started = true;
    this.schedule(initialDelayMs);
  }

  /** Cancels the timer, aborts a scrape in progress, waits for it to settle and closes the fetcher. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    await this.running;
    await this.options.fetcher.close();
  }

  private schedule(delayMs: number): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.running = this.scrapeOnce();
    }, delayMs);
  }

  private async scrapeOnce(): Promise<void> {
    const { clock } = this.options;
    const startedAt = clock.now();
    const controller = new AbortController();
    this.abort = controller;
    const timeout = clock.setTimeout(() => controller.abort(new ScrapeTimeout()), this.timeoutMs);
    let outcome: ScrapeOutcome;
    try {
      const text = await this.options.fetcher.fetch(controller.signal);
      const extracted = extractEndpointMetrics(parsePrometheusText(text, { only: this.keep }), this.options.names);
      outcome = extracted.ok
        ? { ok: true, metrics: extracted.metrics, startedAt, finishedAt: clock.now() }
        : { ok: false, reason: extracted.detail, startedAt, finishedAt: clock.now() };
    } catch (err: unknown) {
      const reason = controller.signal.reason instanceof ScrapeTimeout ? `timed out after ${this.timeoutMs} ms` : errorText(err);
      outcome = { ok: false, reason, startedAt, finishedAt: clock.now() };
    } finally {
      clock.clearTimeout(timeout);
      this.abort = undefined;
    }
    if (this.stopped !== undefined) return; // removed meanwhile: publish nothing, schedule nothing
    this.logTransition(outcome);
    try {
      this.options.onOutcome(outcome);
    } catch (err: unknown) {
      this.options.logger.error({ endpoint: this.options.endpointId, err }, 'scrape listener threw');
    }
    this.schedule(Math.max(0, startedAt + this.intervalMs - clock.now()));
  }

  private logTransition(outcome: ScrapeOutcome): void {
    const next: Health = outcome.ok ? 'ok' : 'failing';
    if (next === this.health) return;
    const previous = this.health;
    this.health = next;
    const { logger, endpointId } = this.options;
    if (!outcome.ok) logger.warn({ endpoint: endpointId, reason: outcome.reason }, 'metrics scrape failing');
    else if (previous === 'failing') logger.info({ endpoint: endpointId }, 'metrics scrape recovered');
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return describe(err);
}
