// Pool reachability: tells "no endpoint can be talked to" (connections refused, reset or timing out on every
// endpoint, for a while; or, for longer, connections accepted but not a byte of a metrics page back in time: frozen pods) apart
// from "metrics are late" (scrapes answered badly, slowly on some endpoints, or not yet, where holding the backlog
// is right). Fed evidence by the scrapers and the front ends; decides nothing about requests itself.
import { type Clock, type TimerHandle, requireFiniteNonNegative, systemClock } from '../core/index.js';
import { type ScrapeListener } from './inflight.js';
import { type ScrapeFailureReason } from './scrape-failure.js';

/** @default 3 s: a few scrape timeouts, sixty refused scrapes. */
export const DEFAULT_UNREACHABLE_AFTER_MS = 3_000;

/**
 * @default 10 s: every endpoint accepting connections but answering nothing in time (or refusing) this long. Longer
 * than for refused connections: a busy pod's metrics page may be late now and then, and while it is, its metrics are
 * stale and the gate holds anyway; ten seconds of silence from every pod is a frozen pool, not a slow one.
 */
export const DEFAULT_UNRESPONSIVE_AFTER_MS = 10_000;

/**
 * Why the pool is not reachable (the bound that ran out): `unreachable`, every endpoint refusing, resetting or not
 * connecting in time for `unreachableAfterMs`; `unresponsive`, every endpoint failing so, or accepting the
 * connection and sending nothing within the scrape timeout (pods frozen, or their processes hung), for
 * `unresponsiveAfterMs`.
 */
export type UnreachableKind = 'unreachable' | 'unresponsive';

export interface ReachabilityState {
  /** False once every endpoint of a non-empty pool has refused for `unreachableAfterMs`, or sent nothing for `unresponsiveAfterMs`. */
  readonly reachable: boolean;
  /** Clock time (ms) of the last change (construction for the initial state). */
  readonly since: number;
  /** Endpoints in the pool when the state was decided. */
  readonly endpoints: number;
  /** When not reachable: which evidence decided it. */
  readonly kind?: UnreachableKind;
  /** When not reachable: the bound that ran out (`unreachableAfterMs` or `unresponsiveAfterMs`). */
  readonly afterMs?: number;
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
  /**
   * How long every endpoint may refuse (reset, not connect) before the pool counts as unreachable; 0: never, and
   * refusals then count toward `unresponsiveAfterMs` neither. @default 3000
   */
  readonly unreachableAfterMs?: number;
  /**
   * How long every endpoint may fail to answer (refusing, or accepting connections and sending not one byte within
   * the scrape timeout) before the pool counts as unreachable (`unresponsive`); 0: never. Refusals count toward it
   * only while `unreachableAfterMs` is not 0. @default 10000
   */
  readonly unresponsiveAfterMs?: number;
}

/** The latest evidence about one endpoint. */
type Contact = 'answered' | 'unreachable' | 'unresponsive';

interface Entry {
  contact: Contact;
  /** Start of the current failing streak of either kind (clock ms); meaningless while answered. */
  failingSince: number;
  /** Start of the current run of unreachable evidence (clock ms); meaningless otherwise. */
  unreachableSince: number;
}

/**
 * Per endpoint, the latest evidence wins: an answer of any kind (a scrape, even an HTTP error, unparsable metrics
 * or a page that came late; a response through the front end) makes it answered; a connection refused, reset or
 * not made within the timeout makes it unreachable from that moment on; a connection accepted with not one byte
 * back within the scrape timeout (a `silent` scrape) makes it unresponsive. The endpoints are those the scrapers
 * reported on, until `forget`; one with no evidence yet (say a pod just added) counts as answered, and a front
 * end's report about an endpoint not known (one that has left) is dropped. The pool is unreachable once every
 * endpoint in it is unreachable and the newest of their streaks is `unreachableAfterMs` old (kind `unreachable`),
 * or every endpoint is failing either way (with `unreachableAfterMs` 0: every endpoint unresponsive) and the newest
 * of their failing streaks is `unresponsiveAfterMs` old (kind `unresponsive`), whichever bound runs out first. One
 * answer from any endpoint makes it reachable again at once.
 *
 * Evidence is O(1) (a map lookup and counters); only the removal of the endpoint holding the newest streak start
 * costs O(endpoints).
 * Implements ScrapeListener, so it plugs in beside the in-flight ledger.
 */
export class PoolReachability implements ScrapeListener, ReachabilityView {
  private readonly clock: Clock;
  /** 0: the bound is off. */
  private readonly unreachableAfterMs: number;
  private readonly unresponsiveAfterMs: number;
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(state: ReachabilityState) => void>();
  /** Endpoints failing either way, and those of them unreachable. */
  private failing = 0;
  private unreachable = 0;
  /**
   * Newest start of a failing streak among failing endpoints (the pool's "no answer since" time), and of an
   * unreachable run among unreachable ones. Not lowered when an endpoint recovers: the verdict needs every endpoint
   * failing again, and one that fails again starts a streak at least as new.
   */
  private newestFailing = Number.NEGATIVE_INFINITY;
  private newestUnreachable = Number.NEGATIVE_INFINITY;
  private lastFailure: { endpoint: string; reason: string } | undefined;
  private state: ReachabilityState;
  private timer: TimerHandle | undefined;
  private timerAt = Number.NaN;
  private closed = false;

  constructor(private readonly options: PoolReachabilityOptions) {
    this.clock = options.clock ?? systemClock;
    this.unreachableAfterMs = requireFiniteNonNegative('unreachableAfterMs', options.unreachableAfterMs ?? DEFAULT_UNREACHABLE_AFTER_MS);
    this.unresponsiveAfterMs = requireFiniteNonNegative('unresponsiveAfterMs', options.unresponsiveAfterMs ?? DEFAULT_UNRESPONSIVE_AFTER_MS);
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
    this.answered(endpointId, true);
  }

  /**
   * A failed scrape (ScrapeListener): `unreachable` when the connection failed, or none came up in time; otherwise
   * unresponsive when the connection was accepted and not one byte came back in time, nor of an earlier late
   * answer (`cause` 'silent'), else answered (badly, or late: 'slow').
   */
  scrapeFailed(endpointId: string, unreachable: boolean, reason = 'scrape failed', cause?: ScrapeFailureReason): void {
    if (unreachable) this.failed(endpointId, reason, true);
    else if (cause === 'silent') this.failed(endpointId, reason, true, 'unresponsive');
    else this.answered(endpointId, true);
  }

  /** The endpoint left the pool (ScrapeListener). */
  forget(endpointId: string): void {
    const entry = this.entries.get(endpointId);
    this.entries.delete(endpointId);
    // Even without evidence of its own, its leaving may leave only failing endpoints behind.
    if (entry !== undefined) {
      if (entry.contact !== 'answered') this.failing--;
      if (entry.contact === 'unreachable') this.unreachable--;
      // An answered entry's old streak may be the newest too: recomputed as well (O(endpoints), removals only), so
      // the newest starts always belong to current entries and a verdict is never put off by a departed one.
      if (isNewest(entry.failingSince, this.newestFailing) || isNewest(entry.unreachableSince, this.newestUnreachable)) this.recomputeNewest();
    }
    this.evaluate();
  }

  /**
   * The endpoint answered something: a scrape (`fromScrape`), or a response through a front end. Only scrapes
   * make an endpoint known (the scrapers stop at `forget`): a front end's answer for an unknown endpoint (a
   * request in flight to a pod that has left) is dropped, so no departed endpoint's entry stands in for a member.
   */
  answered(endpointId: string, fromScrape = false): void {
    const entry = this.entries.get(endpointId);
    if (entry === undefined) {
      if (!fromScrape) return;
      this.entries.set(endpointId, { contact: 'answered', failingSince: Number.NEGATIVE_INFINITY, unreachableSince: Number.NEGATIVE_INFINITY });
    } else if (entry.contact !== 'answered') {
      if (entry.contact === 'unreachable') this.unreachable--;
      entry.contact = 'answered';
      this.failing--;
    } else {
      return; // nothing changed: the common case, every 50 ms per endpoint
    }
    this.evaluate();
  }

  /**
   * Talking to the endpoint failed: at the connection level (`unreachable`), or the connection was accepted and
   * not a byte back in time (`unresponsive`). From a front end (`fromScrape` false) only for endpoints the
   * scrapers already know, so a late report about a removed endpoint cannot count as a member.
   */
  failed(endpointId: string, reason: string, fromScrape = false, contact: Exclude<Contact, 'answered'> = 'unreachable'): void {
    let entry = this.entries.get(endpointId);
    if (entry === undefined && !fromScrape) return;
    this.lastFailure = { endpoint: endpointId, reason };
    if (entry?.contact === contact) {
      if (this.timer === undefined && this.state.reachable) this.evaluate();
      return;
    }
    const now = this.clock.now();
    if (entry === undefined) {
      entry = { contact: 'answered', failingSince: now, unreachableSince: now };
      this.entries.set(endpointId, entry);
    }
    if (entry.contact === 'answered') {
      this.failing++;
      entry.failingSince = now;
      if (now > this.newestFailing) this.newestFailing = now;
    } else if (entry.contact === 'unreachable') {
      this.unreachable--;
      // Now unresponsive: its failing streak goes on, unless refusals count for nothing (unreachableAfterMs 0),
      // when its unresponsive streak starts now.
      if (this.unreachableAfterMs === 0) {
        entry.failingSince = now;
        if (now > this.newestFailing) this.newestFailing = now;
      }
    }
    if (contact === 'unreachable') {
      this.unreachable++;
      entry.unreachableSince = now;
      if (now > this.newestUnreachable) this.newestUnreachable = now;
    }
    entry.contact = contact;
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
    const allUnreachable = this.unreachable >= size;
    const byUnreachable = allUnreachable && this.unreachableAfterMs > 0 ? this.newestUnreachable + this.unreachableAfterMs : Number.POSITIVE_INFINITY;
    // With unreachableAfterMs 0 refusals count toward nothing (the hold-until-TTL behaviour the operator chose for
    // them): the unresponsive bound then needs every endpoint accepting and silent.
    const unresponsiveCounted = this.unreachableAfterMs > 0 ? this.failing : this.failing - this.unreachable;
    const byUnresponsive = this.unresponsiveAfterMs > 0 && unresponsiveCounted >= size ? this.newestFailing + this.unresponsiveAfterMs : Number.POSITIVE_INFINITY;
    const at = Math.min(byUnreachable, byUnresponsive);
    if (at === Number.POSITIVE_INFINITY) {
      this.clearTimer();
      return;
    }
    if (this.clock.now() >= at) {
      this.clearTimer();
      // The kind is the bound that fired (the unreachable one on a tie: every endpoint refuses).
      const byRefusals = at === byUnreachable;
      this.change(false, size, byRefusals ? 'unreachable' : 'unresponsive', byRefusals ? this.unreachableAfterMs : this.unresponsiveAfterMs);
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

  private change(reachable: boolean, endpoints: number, kind?: UnreachableKind, afterMs?: number): void {
    const last = this.lastFailure;
    this.state = Object.freeze({
      reachable,
      since: this.clock.now(),
      endpoints,
      ...(kind !== undefined ? { kind, afterMs } : {}),
      ...(!reachable && last !== undefined ? { lastFailure: { ...last } } : {}),
    });
    const state = this.state;
    for (const listener of this.listeners) listener(state);
  }

  private recomputeNewest(): void {
    let failing = Number.NEGATIVE_INFINITY;
    let unreachable = Number.NEGATIVE_INFINITY;
    for (const e of this.entries.values()) {
      if (e.contact !== 'answered' && e.failingSince > failing) failing = e.failingSince;
      if (e.contact === 'unreachable' && e.unreachableSince > unreachable) unreachable = e.unreachableSince;
    }
    this.newestFailing = failing;
    this.newestUnreachable = unreachable;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.NaN;
  }
}

/** `start` is the newest streak start (an endpoint that never failed holds none). */
function isNewest(start: number, newest: number): boolean {
  return start === newest && start !== Number.NEGATIVE_INFINITY;
}
