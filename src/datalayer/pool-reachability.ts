// Pool reachability: tells "no endpoint can be talked to" (connections refused, reset or timing out on every
// endpoint, for a while) apart from "metrics are late" (scrapes answered badly, slowly or not yet, where holding
// the backlog is right). Fed evidence by the scrapers and the front ends; decides nothing about requests itself.
import { type Clock, type TimerHandle, requirePositive, systemClock } from '../core/index.js';
import { type ScrapeListener } from './inflight.js';

/** @default 3 s: a few scrape timeouts, sixty refused scrapes. */
export const DEFAULT_UNREACHABLE_AFTER_MS = 3_000;

export interface ReachabilityState {
  /** False once every endpoint of a non-empty pool has failed to answer for `unreachableAfterMs`. */
  readonly reachable: boolean;
  /** Clock time (ms) of the last change (construction for the initial state). */
  readonly since: number;
  /** Endpoints in the pool when the state was decided. */
  readonly endpoints: number;
  /** The latest failure seen (endpoint and error) when unreachable, for the log line. */
  readonly lastFailure?: { readonly endpoint: string; readonly reason: string };
}

/** Read side, for the server (and anything that reports the state). */
export interface ReachabilityView {
  current(): ReachabilityState;
  /** Called after each change of `reachable`; returns the unsubscribe function. */
  subscribe(listener: (state: ReachabilityState) => void): () => void;
}

export interface PoolReachabilityOptions {
  /** Endpoints in the pool now (O(1): the pool snapshot's length). */
  readonly poolSize: () => number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** How long no endpoint may answer before the pool counts as unreachable. @default 3000 */
  readonly unreachableAfterMs?: number;
}

interface Entry {
  failing: boolean;
  /** Start of the current failing streak (clock ms); meaningless while not failing. */
  since: number;
}

/**
 * Per endpoint, the latest evidence wins: an answer of any kind (a scrape, even an HTTP error or unparsable
 * metrics, a page slower than the scrape timeout; a response through the front end) makes it reachable, a
 * connection refused, reset or not made within the timeout makes it failing from that moment on. The pool is unreachable once every endpoint in it is failing (an endpoint with
 * no evidence yet, say a pod just added, counts as reachable) and the newest of their failing streaks is
 * `unreachableAfterMs` old. One answer from any endpoint makes it reachable again at once.
 *
 * Evidence is O(1) (a map lookup and counters); only the removal of a failing endpoint costs O(endpoints).
 * Implements ScrapeListener, so it plugs in beside the in-flight ledger.
 */
export class PoolReachability implements ScrapeListener, ReachabilityView {
  private readonly clock: Clock;
  private readonly afterMs: number;
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(state: ReachabilityState) => void>();
  private failing = 0;
  /** Newest start of a failing streak among failing endpoints: the pool's "no answer since" time. */
  private newestStreak = Number.NEGATIVE_INFINITY;
  private lastFailure: { endpoint: string; reason: string } | undefined;
  private state: ReachabilityState;
  private timer: TimerHandle | undefined;
  private timerAt = Number.NaN;
  private closed = false;

  constructor(private readonly options: PoolReachabilityOptions) {
    this.clock = options.clock ?? systemClock;
    this.afterMs = requirePositive('unreachableAfterMs', options.unreachableAfterMs ?? DEFAULT_UNREACHABLE_AFTER_MS);
    this.state = Object.freeze({ reachable: true, since: this.clock.now(), endpoints: 0 });
  }

  current(): ReachabilityState {
    return this.state;
  }

  subscribe(listener: (state: ReachabilityState) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** A good scrape (ScrapeListener). */
  markScraped(endpointId: string): void {
    this.answered(endpointId);
  }

  /** A failed scrape (ScrapeListener): `unreachable` when the connection failed, or none came up in time. */
  scrapeFailed(endpointId: string, unreachable: boolean, reason = 'scrape failed'): void {
    if (unreachable) this.failed(endpointId, reason, true);
    else this.answered(endpointId);
  }

  /** The endpoint left the pool (ScrapeListener). */
  forget(endpointId: string): void {
    const entry = this.entries.get(endpointId);
    this.entries.delete(endpointId);
    // Even without evidence of its own, its leaving may leave only failing endpoints behind.
    if (entry?.failing === true) {
      this.failing--;
      if (entry.since === this.newestStreak) this.recomputeNewestStreak();
    }
    this.evaluate();
  }

  /** The endpoint answered something: a scrape, or a response through a front end. */
  answered(endpointId: string): void {
    const entry = this.entries.get(endpointId);
    if (entry === undefined) {
      this.entries.set(endpointId, { failing: false, since: 0 });
    } else if (entry.failing) {
      entry.failing = false;
      this.failing--;
    } else {
      return; // nothing changed: the common case, every 50 ms per endpoint
    }
    this.evaluate();
  }

  /**
   * Talking to the endpoint failed at the connection level. From a front end (`fromScrape` false) only for
   * endpoints the scrapers already know, so a late report about a removed endpoint cannot count as a member.
   */
  failed(endpointId: string, reason: string, fromScrape = false): void {
    let entry = this.entries.get(endpointId);
    if (entry === undefined && !fromScrape) return;
    this.lastFailure = { endpoint: endpointId, reason };
    if (entry?.failing === true) {
      if (this.timer === undefined && this.state.reachable) this.evaluate();
      return;
    }
    const now = this.clock.now();
    if (entry === undefined) {
      entry = { failing: true, since: now };
      this.entries.set(endpointId, entry);
    } else {
      entry.failing = true;
      entry.since = now;
    }
    this.failing++;
    if (now > this.newestStreak) this.newestStreak = now;
    this.evaluate();
  }

  close(): void {
    this.closed = true;
    this.clearTimer();
    this.listeners.clear();
  }

  private evaluate(): void {
    if (this.closed) return;
    const size = this.options.poolSize();
    const allFailing = size > 0 && this.failing >= size;
    if (!allFailing) {
      this.clearTimer();
      if (!this.state.reachable) this.change(true, size);
      return;
    }
    if (!this.state.reachable) return;
    const at = this.newestStreak + this.afterMs;
    if (this.clock.now() >= at) {
      this.clearTimer();
      this.change(false, size);
      return;
    }
    if (this.timer !== undefined && this.timerAt === at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.NaN;
      this.evaluate();
    }, at - this.clock.now());
  }

  private change(reachable: boolean, endpoints: number): void {
    const last = this.lastFailure;
    this.state = Object.freeze({
      reachable,
      since: this.clock.now(),
      endpoints,
      ...(!reachable && last !== undefined ? { lastFailure: { ...last } } : {}),
    });
    const state = this.state;
    for (const listener of this.listeners) listener(state);
  }

  private recomputeNewestStreak(): void {
    let newest = Number.NEGATIVE_INFINITY;
    for (const e of this.entries.values()) if (e.failing && e.since > newest) newest = e.since;
    this.newestStreak = newest;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.NaN;
  }
}
