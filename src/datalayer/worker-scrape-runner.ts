// Scraping on a worker thread: the dispatch thread keeps only endpoint bookkeeping and applies compact outcome
// batches, so a 1,000-endpoint pool's sockets, parsing and timers never delay request dispatch. A worker that
// dies is replaced and given every endpoint again.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Clock, type Logger, type TimerHandle } from '../core/index.js';
import { type HttpMetricsFetcherOptions } from './metrics-fetcher.js';
import { type BatchListener, type ScrapeJob, type ScrapeRunner, type ScrapeTiming } from './scrape-runner.js';
import { type ScrapeOutcome } from './metrics-scraper.js';
import { type ScrapeFailureReason } from './scrape-failure.js';
import { type FromWorker, type ScrapeWorkerInit, type ToWorker, OutcomeBacklog, OutcomeBatchReader } from './scrape-wire.js';
import { startThreadpool } from './thread-priority.js';

/** @default 5 s: how often a rotating bearer token is looked at and, when changed, sent to the worker. */
const TOKEN_POLL_MS = 5_000;
/** A worker exiting within this long of its start counts as a quick exit; more than MAX_QUICK_EXITS in a row stop it. */
const QUICK_EXIT_MS = 5_000;
const MAX_QUICK_EXITS = 3;
/** Added to the worker's times (epoch milliseconds) to get this thread's clock (performance.now()). */
const WORKER_TIME_OFFSET = -performance.timeOrigin;

/** A worker not gone this long after being asked to close is terminated. */
const CLOSE_GRACE_MS = 2_000;

export interface WorkerScrapeRunnerOptions {
  readonly timing: ScrapeTiming;
  readonly fetch?: HttpMetricsFetcherOptions;
  /** Must be the system clock: outcome times cross threads as wall-clock (epoch) milliseconds. */
  readonly clock: Clock;
  readonly logger: Logger;
  /** Given each batch from the worker as a whole: everything in it is applied together. */
  readonly onBatch: BatchListener;
  /** Added to the worker thread's nice value (Linux). @default DEFAULT_SCRAPE_WORKER_NICE */
  readonly nice?: number;
  /**
   * Run on this thread just before each worker thread starts, the threadpool started (the server lowers the
   * process's background threads there: thread-priority.ts, lowerBackgroundThreads).
   */
  readonly beforeSpawn?: () => void;
}

/**
 * @default 10: the scrape worker's nice value above the process's. When the dispatch thread and the worker want
 * the same core, the dispatch thread runs first (a nice-10 thread weighs about a tenth of a nice-0 one): a
 * scrape read a millisecond later costs nothing, a dispatch held up by scraping costs requests latency. Idle
 * cycles still all go to the worker. Measured in bench/README.md (data layer).
 */
export const DEFAULT_SCRAPE_WORKER_NICE = 10;

/**
 * The compiled worker next to this module; when this module runs from TypeScript sources (tests), the compiled
 * twin under dist/ (built by `npm test`'s pretest step).
 */
function workerEntry(): URL {
  const here = new URL('./scrape-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const compiled = new URL(here.href.replace('/src/datalayer/', '/dist/src/datalayer/'));
  if (existsSync(fileURLToPath(compiled))) return compiled;
  throw new Error(`scrape worker not found at ${fileURLToPath(here)} (run npm run build)`);
}

export class WorkerScrapeRunner implements ScrapeRunner {
  private worker: Worker;
  /** Current jobs by id, with their slot: replayed into a replacement worker. */
  private readonly jobs = new Map<string, { job: ScrapeJob; slot: number }>();
  /** Each current slot is bound to its endpoint's id: an outcome comes back with it (one lookup per outcome). */
  private readonly reader = new OutcomeBatchReader<string>();
  /** Batches received and not yet wholly applied. */
  private readonly backlog = new OutcomeBacklog();
  private drainScheduled = false;
  private nextSlot = 1;
  private token: string | undefined;
  private tokenTimer: TimerHandle | undefined;
  private closing: Promise<void> | undefined;
  private quickExits = 0;

  constructor(private readonly options: WorkerScrapeRunnerOptions) {
    this.token = options.fetch?.bearerToken?.();
    this.worker = this.spawn();
    if (options.fetch?.bearerToken !== undefined) this.pollToken();
  }

  add(job: ScrapeJob): void {
    if (this.closing !== undefined) return;
    this.forgetSlot(job.id);
    const slot = this.nextSlot++;
    this.jobs.set(job.id, { job, slot });
    this.reader.bind(slot, job.id);
    this.postAdd(job, slot);
  }

  remove(id: string): Promise<void> {
    if (!this.jobs.has(id)) return Promise.resolve();
    this.forgetSlot(id);
    this.jobs.delete(id);
    this.post({ kind: 'remove', id });
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.tokenTimer !== undefined) this.options.clock.clearTimeout(this.tokenTimer);
    const worker = this.worker;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.post({ kind: 'close' });
    const grace = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
    await exited;
    clearTimeout(grace);
    this.jobs.clear();
    this.backlog.clear();
    // Endpoint ids, LoRA lists and last metrics of every slot, and records made for merged outcomes of departed
    // slots that the backlog's clear dropped unread.
    this.reader.clear();
  }

  private forgetSlot(id: string): void {
    const current = this.jobs.get(id);
    if (current === undefined) return;
    this.reader.forget(current.slot);
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private postAdd(job: ScrapeJob, slot: number): void {
    this.post({ kind: 'add', slot, id: job.id, target: job.target, names: job.names, initialDelayMs: job.initialDelayMs });
  }

  private spawn(): Worker {
    const { fetch } = this.options;
    const init: ScrapeWorkerInit = {
      timing: this.options.timing,
      fetch: {
        ...(fetch?.scheme !== undefined ? { scheme: fetch.scheme } : {}),
        ...(fetch?.tls !== undefined ? { tls: fetch.tls } : {}),
        ...(fetch?.maxBodyBytes !== undefined ? { maxBodyBytes: fetch.maxBodyBytes } : {}),
        ...(fetch?.keepAliveMs !== undefined ? { keepAliveMs: fetch.keepAliveMs } : {}),
      },
      token: this.token,
      nice: this.options.nice ?? DEFAULT_SCRAPE_WORKER_NICE,
    };
    // The threadpool's threads must not be born of the worker once it has lowered its priority (thread-priority.ts).
    if (init.nice > 0) startThreadpool();
    this.options.beforeSpawn?.();
    // execArgv: [] so test runners' loader flags are not inherited by a thread running compiled JavaScript.
    const worker = new Worker(workerEntry(), { workerData: init, execArgv: [] });
    // Like the system clock's timers, the worker alone does not keep the process alive; close() ends it.
    worker.unref();
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (err) => this.options.logger.error({ err }, 'scrape worker failed'));
    const spawnedAt = performance.now();
    worker.on('exit', (code) => {
      if (this.closing !== undefined || worker !== this.worker) return;
      // A worker that keeps dying at once would be restarted in a tight loop: give up after a few, loudly (every
      // endpoint then turns stale, which the gate treats as saturated).
      this.quickExits = performance.now() - spawnedAt < QUICK_EXIT_MS ? this.quickExits + 1 : 0;
      if (this.quickExits > MAX_QUICK_EXITS) {
        this.options.logger.error({ code }, 'scrape worker keeps exiting; metrics scraping stopped');
        return;
      }
      this.options.logger.error({ code }, 'scrape worker exited; starting a new one');
      this.worker = this.spawn();
      for (const { job, slot } of this.jobs.values()) this.postAdd(job, slot);
    });
    return worker;
  }

  private onMessage(message: FromWorker): void {
    switch (message.kind) {
      case 'outcomes': {
        if (this.closing !== undefined) return;
        this.backlog.push(message.nums, message.extras, this.reader, WORKER_TIME_OFFSET);
        // Applied in the check phase of this same loop turn (no wait for a timer), after every message that
        // arrived with this one is queued; APPLY_PER_TURN or APPLY_TURN_MS at most per turn (readTurn). The
        // backlog merges per endpoint when more waits than two turns' worth, so it stays bounded by the pool's
        // size however long this thread's turns get.
        if (!this.drainScheduled) {
          this.drainScheduled = true;
          setImmediate(this.drain);
        }
        return;
      }
      case 'log':
        this.options.logger[message.level](message.obj, message.msg);
        return;
      case 'closed':
        return;
    }
  }

  /**
   * Applies one turn's share of the backlog (up to APPLY_PER_TURN outcomes, fewer once APPLY_TURN_MS are spent),
   * oldest first, as one batch; the rest next turn.
   */
  private readonly drain = (): void => {
    this.drainScheduled = false;
    if (this.closing !== undefined || !this.backlog.pending) return;
    try {
      this.applyBacklog();
    } finally {
      if (this.backlog.pending && this.closing === undefined) {
        this.drainScheduled = true;
        setImmediate(this.drain);
      }
    }
  };

  private readonly now = (): number => this.options.clock.now();

  private applyBacklog(): void {
    let taken = false;
    this.options.onBatch((emit, superseded) => {
      taken = true;
      const forward = (slot: number, outcome: ScrapeOutcome, id: string | undefined): void => {
        if (id !== undefined) emit(id, outcome);
        // A result the worker sent before it heard of the removal: reading it cached the slot's figures again,
        // and slots are never reused, so without this every departed pod would leave an entry behind.
        else this.reader.forget(slot);
      };
      const count = (slot: number, kind: 'ok' | ScrapeFailureReason, n: number): void => {
        const id = this.reader.tagOf(slot);
        if (id !== undefined) superseded(id, kind, n);
      };
      this.backlog.readTurn(this.reader, WORKER_TIME_OFFSET, forward, this.now, count);
    });
    // A listener that takes nothing (its monitor closing) will take none of the rest either.
    if (!taken) this.backlog.clear();
  }

  private pollToken(): void {
    this.tokenTimer = this.options.clock.setTimeout(() => {
      const token = this.options.fetch?.bearerToken?.();
      if (token !== this.token) {
        this.token = token;
        this.post({ kind: 'token', token });
      }
      if (this.closing === undefined) this.pollToken();
    }, TOKEN_POLL_MS);
  }
}
