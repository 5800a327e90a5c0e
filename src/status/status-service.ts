// The operator's view, live: samples the recorder once a second into the history, builds snapshots on demand
// (coalesced, so many readers cost one build), keeps the last few serialized by sequence number, and feeds
// subscribers (the page's event stream) about four times a second while any are connected. Nothing runs per
// request: with nobody watching, the cost is one O(bands + reasons) sample per second.
import { type Clock, type Logger, type TimerHandle, noopLogger, requireIntegerInRange, requirePositive, systemClock } from '../core/index.js';
import { CounterHistory } from './counter-history.js';
import { type StatusSources } from './ports.js';
import { buildStatusSnapshot } from './snapshot-builder.js';
import { type ConfigSummary, type StatusSnapshot } from './snapshot.js';
import { type StatusRecorder } from './status-recorder.js';

export const DEFAULT_STATUS_INTERVAL_MS = 250;
export const DEFAULT_HISTORY_SECONDS = 180;
export const DEFAULT_MAX_ENDPOINTS = 256;
export const DEFAULT_TOP_TENANTS = 20;
export const DEFAULT_RATE_WINDOW_SECONDS = 5;
export const DEFAULT_OUTCOME_WINDOW_SECONDS = 60;
/** Snapshots kept for `json(seq)`: a few seconds' worth at the default interval. */
export const DEFAULT_KEEP_SNAPSHOTS = 16;
/** Readers within this long of the last build share it. */
const COALESCE_MS = 100;
const SAMPLE_INTERVAL_MS = 1_000;

export interface StatusServiceOptions {
  readonly sources: StatusSources;
  /** Must observe the same flow controller and pipeline as `sources` (wired by the composition root). */
  readonly recorder: StatusRecorder;
  /** Read at every build, so a configuration reload shows. */
  readonly config: () => ConfigSummary;
  readonly version: string;
  /** Monotonic; the clock of flow control and the pool (their timestamps are compared with it). @default systemClock */
  readonly clock?: Clock;
  /** Wall-clock ms for the timestamps on the page. @default Date.now */
  readonly wallClock?: () => number;
  readonly logger?: Logger;
  /** How tenant names are shown. @default as they are */
  readonly tenantName?: (fairnessId: string) => string;
  /** @default 20 */
  readonly topTenants?: number;
  /** @default 256 */
  readonly maxEndpoints?: number;
  /** Seconds of per-second history. @default 180 */
  readonly historySeconds?: number;
  /** Between two snapshots pushed to subscribers. @default 250 (4 per second) */
  readonly intervalMs?: number;
  /** Rates (dispatches/s) are averaged over this many seconds. @default 5 */
  readonly rateWindowSeconds?: number;
  /** Shed and evicted totals by reason cover this many seconds. @default 60 */
  readonly outcomeWindowSeconds?: number;
}

export type SnapshotListener = (json: string, seq: number) => void;

export class StatusService {
  private readonly o: StatusServiceOptions;
  private readonly clock: Clock;
  private readonly wallClock: () => number;
  private readonly logger: Logger;
  private readonly history: CounterHistory;
  private readonly topTenants: number;
  private readonly maxEndpoints: number;
  private readonly intervalMs: number;
  private readonly rateWindowSeconds: number;
  private readonly outcomeWindowSeconds: number;
  private readonly startedAt: number;
  private readonly listeners = new Set<SnapshotListener>();
  /** The last few serialized snapshots, oldest first. */
  private readonly recent: { seq: number; json: string }[] = [];
  private last: { at: number; snapshot: StatusSnapshot; json: string | undefined } | undefined;
  private seq = 0;
  private sampleTimer: TimerHandle | undefined;
  private feedTimer: TimerHandle | undefined;
  private started = false;
  private closed = false;

  constructor(options: StatusServiceOptions) {
    this.o = options;
    this.clock = options.clock ?? systemClock;
    this.wallClock = options.wallClock ?? Date.now;
    this.logger = options.logger ?? noopLogger;
    this.topTenants = requireIntegerInRange('topTenants', options.topTenants ?? DEFAULT_TOP_TENANTS, 1, 1_000);
    this.maxEndpoints = requireIntegerInRange('maxEndpoints', options.maxEndpoints ?? DEFAULT_MAX_ENDPOINTS, 1, 100_000);
    this.intervalMs = requirePositive('intervalMs', options.intervalMs ?? DEFAULT_STATUS_INTERVAL_MS);
    this.rateWindowSeconds = requireIntegerInRange('rateWindowSeconds', options.rateWindowSeconds ?? DEFAULT_RATE_WINDOW_SECONDS, 1, 3_600);
    this.outcomeWindowSeconds = requireIntegerInRange(
      'outcomeWindowSeconds',
      options.outcomeWindowSeconds ?? DEFAULT_OUTCOME_WINDOW_SECONDS,
      1,
      3_600,
    );
    const historySeconds = requireIntegerInRange('historySeconds', options.historySeconds ?? DEFAULT_HISTORY_SECONDS, 10, 86_400);
    // One more sample than the longest window, so "the last N seconds" always has a sample to start from.
    this.history = new CounterHistory(Math.max(historySeconds, this.outcomeWindowSeconds, this.rateWindowSeconds) + 2);
    this.startedAt = this.clock.now();
  }

  /** Starts the once-a-second sampling (the history and the tenant window). Idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.sample();
  }

  /** Stops sampling and the feed; subscribers are dropped. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.sampleTimer !== undefined) this.clock.clearTimeout(this.sampleTimer);
    if (this.feedTimer !== undefined) this.clock.clearTimeout(this.feedTimer);
    this.sampleTimer = this.feedTimer = undefined;
    this.listeners.clear();
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** A snapshot of now; builds within 100 ms of each other share one. */
  snapshot(): StatusSnapshot {
    const now = this.clock.now();
    if (this.last !== undefined && now - this.last.at < COALESCE_MS) return this.last.snapshot;
    const snapshot = this.build(now);
    this.last = { at: now, snapshot, json: undefined };
    return snapshot;
  }

  /** The current snapshot serialized; with `seq`, that earlier snapshot if still kept (else undefined). */
  json(seq?: number): string | undefined {
    if (seq !== undefined) return this.recent.find((r) => r.seq === seq)?.json;
    const snapshot = this.snapshot();
    const last = this.last;
    if (last === undefined) return JSON.stringify(snapshot);
    if (last.json === undefined) {
      last.json = JSON.stringify(snapshot);
      this.keep(snapshot.seq, last.json);
    }
    return last.json;
  }

  /**
   * Calls `listener` with each new snapshot, serialized once for all listeners, every `intervalMs` while anyone
   * listens; the first call comes at once. Returns the unsubscribe function.
   */
  subscribe(listener: SnapshotListener): () => void {
    this.listeners.add(listener);
    const json = this.json();
    if (json !== undefined) this.deliver(listener, json, this.last?.snapshot.seq ?? 0);
    this.armFeed();
    return () => {
      this.listeners.delete(listener);
    };
  }

  private build(now: number): StatusSnapshot {
    const { sources, recorder } = this.o;
    const details = sources.saturation.details();
    const ledger = recorder.tenants;
    return buildStatusSnapshot({
      seq: ++this.seq,
      now,
      wallNow: this.wallClock(),
      startedAt: this.startedAt,
      version: this.o.version,
      config: this.o.config(),
      flow: sources.flowControl.stats(),
      topQueued: sources.flowControl.topQueuedFlows(this.topTenants),
      queuedFor: (id) => sources.flowControl.queuedFor(id),
      saturation: { value: details.saturation, staleEndpoints: details.staleEndpoints, endpoints: details.endpoints },
      endpoints: sources.pool.current().endpoints,
      inflightOf: (id) => sources.inflight.load(id).requests,
      counters: recorder.counters(),
      history: this.history,
      tenants: {
        active: ledger.activeTenants,
        jainIndex: ledger.jainIndex(),
        top: ledger.topServed().slice(0, this.topTenants),
        activeWindowSeconds: ledger.activeTicks,
        decaySeconds: ledger.decayTicks,
      },
      tenantName: this.o.tenantName ?? ((id) => id),
      maxEndpoints: this.maxEndpoints,
      rateWindowSeconds: this.rateWindowSeconds,
      outcomeWindowSeconds: this.outcomeWindowSeconds,
    });
  }

  private keep(seq: number, json: string): void {
    this.recent.push({ seq, json });
    if (this.recent.length > DEFAULT_KEEP_SNAPSHOTS) this.recent.shift();
  }

  private sample(): void {
    if (this.closed) return;
    try {
      const { sources, recorder } = this.o;
      recorder.tenants.tick();
      const stats = sources.flowControl.stats();
      this.history.record({
        at: this.clock.now(),
        counters: recorder.counters(),
        gauges: {
          jainIndex: recorder.tenants.jainIndex(),
          saturation: sources.saturation.details().saturation,
          queuedRequests: stats.queuedRequests,
          inflight: stats.inflight,
        },
      });
    } catch (err) {
      this.logger.warn({ err }, 'status sample failed');
    }
    this.sampleTimer = this.clock.setTimeout(() => this.sample(), SAMPLE_INTERVAL_MS);
  }

  private armFeed(): void {
    if (this.feedTimer !== undefined || this.closed || this.listeners.size === 0) return;
    this.feedTimer = this.clock.setTimeout(() => {
      this.feedTimer = undefined;
      this.feed();
    }, this.intervalMs);
  }

  private feed(): void {
    if (this.listeners.size === 0 || this.closed) return;
    try {
      const json = this.json();
      const seq = this.last?.snapshot.seq ?? 0;
      if (json !== undefined) for (const listener of this.listeners) this.deliver(listener, json, seq);
    } catch (err) {
      this.logger.warn({ err }, 'status snapshot failed');
    }
    this.armFeed();
  }

  private deliver(listener: SnapshotListener, json: string, seq: number): void {
    try {
      listener(json, seq);
    } catch (err) {
      this.logger.warn({ err }, 'status listener failed');
    }
  }
}
