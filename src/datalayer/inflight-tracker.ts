// In-flight tracker: Fairway's own ledger of work sent to each endpoint and not yet finished (the open loop),
// including what was sent after the endpoint's last scrape and so is invisible in its metrics.
import Denque from 'denque';
import {
  type Clock,
  type Logger,
  InvalidArgumentError,
  noopLogger,
  requireFiniteNonNegative,
  requireNonEmptyString,
  systemClock,
} from '../core/index.js';
import {
  type InflightFeed,
  type InflightLoad,
  type ScrapeListener,
  NO_INFLIGHT,
} from './inflight.js';

/** Proof of one dispatch; pass it back to `end()` exactly once (extra calls are ignored). */
export interface InflightTicket {
  readonly endpointId: string;
  readonly tokens: number;
  /** Clock time of `begin()`. */
  readonly beganAt: number;
  /** Prompt tokens still counted as not started on `endpointId` (0 once started, ended or never counted). */
  readonly unstartedTokens: number;
}

class Ticket implements InflightTicket {
  ended = false;
  /**
   * Still counted in the "since scrape" figures (no scrape taken after it began has landed). Once false on a
   * live ticket, some landed scrape has seen it, so its end is credited as finished work.
   */
  unseen = true;

  constructor(
    readonly owner: InflightTracker,
    readonly endpointId: string,
    readonly tokens: number,
    readonly beganAt: number,
    public unstartedTokens: number,
  ) {}
}

interface EndpointLedger {
  requests: number;
  tokens: number;
  requestsSinceScrape: number;
  tokensSinceScrape: number;
  /** Seen tickets that ended since the last scrape landed; zeroed by the next landing. */
  requestsEndedSinceScrape: number;
  tokensEndedSinceScrape: number;
  /** Prompt tokens of live tickets not started yet (first byte not seen). */
  unstartedTokens: number;
  /** Live tickets with unstarted tokens, so the sum can be zeroed exactly (no float drift) when it empties. */
  unstartedRequests: number;
  /** Unseen tickets in begin order (= time order, the clock is monotonic); ended ones are dropped lazily. */
  readonly unseen: Denque<Ticket>;
  /** Frozen view handed to readers, rebuilt lazily after a change. */
  view: InflightLoad | undefined;
}

export interface InflightTrackerOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default noopLogger */
  readonly logger?: Logger;
}

/**
 * Complexity: begin O(1); started O(1); end O(1) amortised; load O(1); markScraped O(tickets begun before the scrape),
 * each ticket popped at most once. Memory is bounded by live tickets plus one ledger per endpoint holding
 * only finished-work credit: a ledger is deleted once it has no live ticket and no credit (credit clears at
 * the endpoint's next scrape, or `forget()`), and the lazy queue is compacted when dead entries outnumber
 * live ones.
 */
export class InflightTracker implements InflightFeed, ScrapeListener {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly ledgers = new Map<string, EndpointLedger>();
  private readonly releaseListeners = new Set<(endpointId: string) => void>();
  private readonly changeListeners = new Set<(endpointId: string) => void>();
  private changes = 0;

  constructor(options: InflightTrackerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? noopLogger;
  }

  get version(): number {
    return this.changes;
  }

  /**
   * Counts a dispatch to `endpointId`. `unstartedTokens` (a streamed request's prompt tokens) stay counted as
   * prefill the server has not done until `started()`, `end()` or `move()` releases them, whichever comes first.
   */
  begin(endpointId: string, estimatedTokens: number, unstartedTokens = 0): InflightTicket {
    requireNonEmptyString('endpointId', endpointId);
    requireFiniteNonNegative('estimatedTokens', estimatedTokens);
    requireFiniteNonNegative('unstartedTokens', unstartedTokens);
    const ticket = new Ticket(this, endpointId, estimatedTokens, this.clock.now(), unstartedTokens);
    let ledger = this.ledgers.get(endpointId);
    if (ledger === undefined) {
      ledger = {
        requests: 0,
        tokens: 0,
        requestsSinceScrape: 0,
        tokensSinceScrape: 0,
        requestsEndedSinceScrape: 0,
        tokensEndedSinceScrape: 0,
        unstartedTokens: 0,
        unstartedRequests: 0,
        unseen: new Denque(),
        view: undefined,
      };
      this.ledgers.set(endpointId, ledger);
    }
    ledger.requests++;
    ledger.tokens += estimatedTokens;
    ledger.requestsSinceScrape++;
    ledger.tokensSinceScrape += estimatedTokens;
    if (unstartedTokens > 0) {
      ledger.unstartedTokens += unstartedTokens;
      ledger.unstartedRequests++;
    }
    ledger.unseen.push(ticket);
    ledger.view = undefined;
    this.changed(endpointId);
    return ticket;
  }

  /**
   * Releases a ticket; returns false (and changes nothing) if it was already ended. A ticket the last landed
   * scrape had seen is credited as finished work until the next scrape lands; an unseen one just leaves the
   * since-scrape counts (no scrape counted it, so there is nothing to take back).
   */
  end(ticket: InflightTicket): boolean {
    return this.release(ticket, true);
  }

  /**
   * The request's first response byte arrived: the server has done its prefill, so its prompt no longer counts
   * as unstarted. Returns false (and changes nothing) when there was nothing left to release: already started,
   * ended, or begun without unstarted tokens. O(1). Notifies release listeners: a server's prefill backlog fell.
   */
  started(ticket: InflightTicket): boolean {
    const t = this.own(ticket);
    if (t.ended || t.unstartedTokens === 0) return false;
    const ledger = this.ledgers.get(t.endpointId);
    if (ledger === undefined) return false; // unreachable: a live ticket keeps its ledger
    releaseUnstarted(ledger, t);
    ledger.view = undefined;
    this.changed(t.endpointId);
    this.emitRelease(t.endpointId);
    return true;
  }

  /**
   * The request was served by another endpoint than the one it was begun on (a fallback took it after the first
   * refused the connection): it leaves the first without finished-work credit, since that endpoint never ran it,
   * and counts on `endpointId` from now on, as work its metrics have not seen yet. Returns the ticket to end
   * later; an ended ticket is returned unchanged.
   */
  move(ticket: InflightTicket, endpointId: string): InflightTicket {
    requireNonEmptyString('endpointId', endpointId);
    if (ticket.endpointId === endpointId) return ticket;
    const unstarted = ticket.unstartedTokens;
    if (!this.release(ticket, false)) return ticket;
    return this.begin(endpointId, ticket.tokens, unstarted);
  }

  private own(ticket: InflightTicket): Ticket {
    if (!(ticket instanceof Ticket) || ticket.owner !== this) {
      throw new InvalidArgumentError('ticket', ticket, 'a ticket from this tracker');
    }
    return ticket;
  }

  private release(t: InflightTicket, credit: boolean): boolean {
    const ticket = this.own(t);
    if (ticket.ended) return false;
    ticket.ended = true;
    const ledger = this.ledgers.get(ticket.endpointId);
    if (ledger === undefined) return false; // unreachable: a live ticket keeps its ledger
    if (ticket.unstartedTokens > 0) releaseUnstarted(ledger, ticket);
    ledger.requests--;
    ledger.tokens -= ticket.tokens;
    if (ticket.unseen) {
      ticket.unseen = false;
      ledger.requestsSinceScrape--;
      ledger.tokensSinceScrape -= ticket.tokens;
    } else if (credit) {
      ledger.requestsEndedSinceScrape++;
      ledger.tokensEndedSinceScrape += ticket.tokens;
    }
    // Kept while it carries credit: the scraped metrics still count the finished work until the next scrape.
    if (ledger.requests === 0 && ledger.requestsEndedSinceScrape === 0) {
      this.ledgers.delete(ticket.endpointId);
    } else {
      if (ledger.requestsSinceScrape === 0) ledger.tokensSinceScrape = 0; // no float drift when empty
      if (ledger.requests === 0) {
        ledger.tokens = 0; // no float drift when empty
        ledger.unseen.clear(); // only dead entries left
      } else if (ledger.unseen.length > 2 * ledger.requestsSinceScrape + 32) compact(ledger);
      ledger.view = undefined;
    }
    this.changed(ticket.endpointId);
    this.emitRelease(ticket.endpointId);
    return true;
  }

  /**
   * The endpoint's scrape sent at `takenAt` has landed: work begun strictly before it is in those metrics.
   * Does not notify release listeners: the caller publishes the new pool snapshot right after, and that is
   * the change signal, so no reader ever sees reset counts paired with the old metrics.
   */
  markScraped(endpointId: string, takenAt: number): void {
    const ledger = this.ledgers.get(endpointId);
    if (ledger === undefined) return;
    let changed = false;
    if (ledger.requestsEndedSinceScrape > 0) {
      ledger.requestsEndedSinceScrape = 0;
      ledger.tokensEndedSinceScrape = 0;
      changed = true;
    }
    for (;;) {
      const head = ledger.unseen.peekFront();
      if (head === undefined || head.beganAt >= takenAt) break;
      ledger.unseen.shift();
      if (!head.unseen) continue;
      head.unseen = false;
      ledger.requestsSinceScrape--;
      ledger.tokensSinceScrape -= head.tokens;
      changed = true;
    }
    if (!changed) return;
    if (ledger.requests === 0) {
      this.ledgers.delete(endpointId); // it only held credit
    } else {
      if (ledger.requestsSinceScrape === 0) ledger.tokensSinceScrape = 0;
      ledger.view = undefined;
    }
    this.changed(endpointId);
  }

  /**
   * Drops the finished-work credit of an endpoint that will not be scraped again (left the pool), so its
   * ledger does not outlive its live tickets. Live tickets stay counted until they end.
   */
  forget(endpointId: string): void {
    const ledger = this.ledgers.get(endpointId);
    if (ledger === undefined || ledger.requestsEndedSinceScrape === 0) return;
    ledger.requestsEndedSinceScrape = 0;
    ledger.tokensEndedSinceScrape = 0;
    if (ledger.requests === 0) this.ledgers.delete(endpointId);
    else ledger.view = undefined;
    this.changed(endpointId);
  }

  load(endpointId: string): InflightLoad {
    const ledger = this.ledgers.get(endpointId);
    if (ledger === undefined) return NO_INFLIGHT;
    ledger.view ??= Object.freeze({
      requests: ledger.requests,
      tokens: ledger.tokens,
      requestsSinceScrape: ledger.requestsSinceScrape,
      tokensSinceScrape: ledger.tokensSinceScrape,
      requestsEndedSinceScrape: ledger.requestsEndedSinceScrape,
      tokensEndedSinceScrape: ledger.tokensEndedSinceScrape,
      unstartedTokens: ledger.unstartedTokens,
    });
    return ledger.view;
  }

  /** Total requests in flight across endpoints. O(endpoints). */
  totalRequests(): number {
    let total = 0;
    for (const ledger of this.ledgers.values()) total += ledger.requests;
    return total;
  }

  onRelease(listener: (endpointId: string) => void): () => void {
    this.releaseListeners.add(listener);
    return () => {
      this.releaseListeners.delete(listener);
    };
  }

  onLoadChange(listener: (endpointId: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => {
      this.changeListeners.delete(listener);
    };
  }

  /** One version step, told to the change listeners (one call per step, as InflightFeed.onLoadChange promises). */
  private changed(endpointId: string): void {
    this.changes++;
    for (const listener of this.changeListeners) {
      try {
        listener(endpointId);
      } catch (err: unknown) {
        this.logger.error({ err, endpoint: endpointId }, 'in-flight change listener threw');
      }
    }
  }

  private emitRelease(endpointId: string): void {
    for (const listener of this.releaseListeners) {
      try {
        listener(endpointId);
      } catch (err: unknown) {
        this.logger.error({ err, endpoint: endpointId }, 'in-flight release listener threw');
      }
    }
  }
}

/** Releases a live ticket's unstarted tokens (the caller checked it has some). O(1). */
function releaseUnstarted(ledger: EndpointLedger, ticket: Ticket): void {
  ledger.unstartedRequests--;
  ledger.unstartedTokens = ledger.unstartedRequests === 0 ? 0 : ledger.unstartedTokens - ticket.unstartedTokens;
  ticket.unstartedTokens = 0;
}

/** Drops ended tickets from the lazy queue, keeping order. O(queue length), amortised by the 2x trigger. */
function compact(ledger: EndpointLedger): void {
  const live = ledger.unseen.toArray().filter((t) => t.unseen);
  ledger.unseen.clear();
  for (const t of live) ledger.unseen.push(t);
}
