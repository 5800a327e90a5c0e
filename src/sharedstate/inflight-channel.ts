// Implements the data layer's PeerInflightSource over the shared-state exchange: publishes this replica's own
// in-flight ledger per endpoint, and sums the other replicas' into one load per endpoint, so detectors and scorers
// count every replica's dispatches (no herding across replicas between two scrapes).
//
// "Since the last scrape" across replicas. Each replica publishes, with its counts, the time it read them (in the
// pool's common time base). Every dispatch a publication counts began before that time; so once this replica
// applies a scrape of the endpoint sent after it, those dispatches are in the scrape's metrics, and the
// publication's since-scrape counts and finished-work credit are dropped. Until then they count (the safe error:
// work counted twice for at most a sync interval, never work missed). Requests in flight always count until the
// peer reports them ended, or the peer's data expires (its TTL after it stopped syncing: 3 intervals, at least 1 s).
//
// Between two syncs the others' latest dispatches are unknown, so each replica estimates them: for every request
// it dispatched to an endpoint since the last sync, it counts r more, r being the others' requests in flight per
// own request at that sync (n - 1 for n replicas when nothing was in flight anywhere: an idle pool hit by a burst
// spread over every replica; 0 when only one side was busy: a tenant served by one replica alone costs nothing). The next sync replaces the estimate by what the others report. Without it, a burst that
// reaches every replica in the same instant lands n times on the same headroom until the first sync.
import { type Clock, systemClock } from '../core/index.js';
import { type InflightLoad, type InflightView, NO_INFLIGHT, type PeerInflightSource, type ScrapeListener } from '../datalayer/index.js';
import { type ChannelWrites, type ExchangeChannel, type PeerView } from './exchange.js';

export const INFLIGHT_CHANNEL = 'i';

interface Published {
  readonly requests: number;
  readonly tokens: number;
  readonly requestsSinceScrape: number;
  readonly tokensSinceScrape: number;
  readonly requestsEndedSinceScrape: number;
  readonly tokensEndedSinceScrape: number;
  /** When the peer read these counts, on this replica's clock. */
  readonly at: number;
  /** The field as the store returned it: an unchanged field is not decoded again. */
  readonly raw: string;
}

export interface InflightChannelOptions {
  /** This replica's own ledger. */
  readonly local: InflightView;
  /** Endpoints to publish (the pool's current members). */
  readonly endpoints: () => Iterable<string>;
  /** Converts between this replica's clock and the pool's common time base (the exchange). */
  readonly time: { toShared(localMs: number): number; toLocal(sharedMs: number): number };
  /** @default systemClock */
  readonly clock?: Clock;
}

function encode(l: InflightLoad, at: number): string {
  return `${l.requests},${l.tokens},${l.requestsSinceScrape},${l.tokensSinceScrape},${l.requestsEndedSinceScrape ?? 0},${l.tokensEndedSinceScrape ?? 0},${at}`;
}

function decode(value: string, toLocal: (ms: number) => number): Published | undefined {
  const n = value.split(',').map(Number);
  if (n.length !== 7 || n.some((x) => !Number.isFinite(x))) return undefined;
  return {
    requests: n[0] ?? 0,
    tokens: n[1] ?? 0,
    requestsSinceScrape: n[2] ?? 0,
    tokensSinceScrape: n[3] ?? 0,
    requestsEndedSinceScrape: n[4] ?? 0,
    tokensEndedSinceScrape: n[5] ?? 0,
    at: toLocal(n[6] ?? 0),
    raw: value,
  };
}

/**
 * Complexity: peerLoad O(1); per sync O(endpoints) to publish and O(peers x endpoints) to re-sum the endpoints
 * whose peer data changed; per applied scrape O(peers) for that endpoint. Every change of an endpoint's peer load
 * is one version step named to `onLoadChange` listeners, so the detectors rescore only the endpoints a sync round
 * moved (before, each round with a change cost them a full pass over the pool: O(endpoints) per sync).
 */
export class InflightChannel implements ExchangeChannel, PeerInflightSource, ScrapeListener {
  readonly id = INFLIGHT_CHANNEL;
  private readonly options: InflightChannelOptions;
  private readonly clock: Clock;
  /** What was last published per endpoint (the counts part, without the time). */
  private readonly published = new Map<string, string>();
  /** Each peer's publications by endpoint. */
  private readonly peers = new Map<string, Map<string, Published>>();
  /** Send time of the last scrape applied per endpoint (this replica's clock). */
  private readonly scrapedAt = new Map<string, number>();
  private readonly sums = new Map<string, InflightLoad>();
  private readonly listeners = new Set<(endpointId: string) => void>();
  private readonly changeListeners = new Set<(endpointId: string) => void>();
  private changes = 0;
  private connected = false;
  /** The others' requests in flight per own request, as of the last sync (see the header); 0 while local-only. */
  private ratio = 0;
  /** Own since-scrape counts per endpoint at the last sync: what the others' reports may already reflect. */
  private readonly ownAtSync = new Map<string, { requests: number; tokens: number }>();
  /**
   * Estimated loads, cached per (reported, own, base, ratio) so that reads allocate only when something changed. The
   * base is part of the key because a scrape drops it (markScraped) while the local ledger's counts may stay the
   * same object: keyed without it, the estimate would stay on the old base and rise only at the next dispatch.
   */
  private readonly estimates = new Map<
    string,
    { reported: InflightLoad; own: InflightLoad; base: { requests: number; tokens: number } | undefined; ratio: number; load: InflightLoad }
  >();

  constructor(options: InflightChannelOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
  }

  get version(): number {
    return this.changes;
  }

  peerLoad(endpointId: string): InflightLoad {
    const reported = this.sums.get(endpointId) ?? NO_INFLIGHT;
    if (this.ratio === 0) return reported;
    const own = this.options.local.load(endpointId);
    const base = this.ownAtSync.get(endpointId);
    const unseen = own.requestsSinceScrape - (base?.requests ?? 0);
    if (unseen <= 0) return reported;
    const c = this.estimates.get(endpointId);
    if (c !== undefined && c.reported === reported && c.own === own && c.base === base && c.ratio === this.ratio) return c.load;
    const extra = Math.round(this.ratio * unseen);
    const extraTokens = Math.round(this.ratio * Math.max(0, own.tokensSinceScrape - (base?.tokens ?? 0)));
    const load: InflightLoad = Object.freeze({
      ...reported,
      requests: reported.requests + extra,
      tokens: reported.tokens + extraTokens,
      requestsSinceScrape: reported.requestsSinceScrape + extra,
      tokensSinceScrape: reported.tokensSinceScrape + extraTokens,
    });
    if (this.estimates.size > 4_096) this.estimates.clear(); // endpoints come and go; keep the cache bounded
    this.estimates.set(endpointId, { reported, own, base, ratio: this.ratio, load });
    return load;
  }

  onDrop(listener: (endpointId: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  onLoadChange(listener: (endpointId: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => {
      this.changeListeners.delete(listener);
    };
  }

  markScraped(endpointId: string, takenAt: number): void {
    this.scrapedAt.set(endpointId, takenAt);
    this.resum(endpointId);
    const before = this.peerLoad(endpointId);
    // The local ledger restarts its since-scrape counts: what it counts from now on is all unseen by the others.
    // (Its dispatches begun after `takenAt` stay unseen, so the estimate on them may rise: a change like any other.)
    this.ownAtSync.delete(endpointId);
    this.settle(endpointId, before, this.peerLoad(endpointId));
  }

  forget(endpointId: string): void {
    const before = this.peerLoad(endpointId);
    this.scrapedAt.delete(endpointId);
    this.ownAtSync.delete(endpointId);
    this.estimates.delete(endpointId);
    this.settle(endpointId, before, this.peerLoad(endpointId));
  }

  collect(all: boolean): ChannelWrites {
    const set = new Map<string, string>();
    const seen = new Set<string>();
    const at = Math.round(this.options.time.toShared(this.clock.now()) * 1000) / 1000;
    for (const id of this.options.endpoints()) {
      seen.add(id);
      const load = this.options.local.load(id);
      const counts = encode(load, 0);
      if (!all && this.published.get(id) === counts) continue;
      if (load === NO_INFLIGHT && !this.published.has(id) && !all) continue;
      this.published.set(id, counts);
      set.set(id, encode(load, at));
    }
    const del: string[] = [];
    for (const id of [...this.published.keys()]) {
      if (seen.has(id)) continue;
      this.published.delete(id);
      del.push(id);
    }
    return { set, del };
  }

  apply(view: PeerView): void {
    const touched = new Set<string>();
    const wasConnected = this.connected;
    this.connected = view.connected;
    for (const origin of view.changed) {
      const known = this.peers.get(origin);
      const fields = view.peers.get(origin);
      if (fields === undefined || !view.connected) {
        for (const id of known?.keys() ?? []) touched.add(id);
        this.peers.delete(origin);
        continue;
      }
      // A peer rewrites only the endpoints whose counts moved, but the store returns all its fields: only those
      // that differ from what it said before are decoded and re-summed (a field keeps its read time, so an equal
      // string is an equal report). O(fields) string comparisons, O(changed) decoding. An unchanged field keeps the
      // local time it was converted to with the clock offset of its round: a later re-estimate of the offset moves
      // it by a few ms at most, which the scraped-after check tolerates.
      const byEndpoint = known ?? new Map<string, Published>();
      let malformed = 0;
      for (const [id, value] of fields) {
        if (byEndpoint.get(id)?.raw === value) continue;
        touched.add(id);
        const p = decode(value, view.toLocal);
        if (p === undefined) {
          malformed++;
          byEndpoint.delete(id);
        } else {
          byEndpoint.set(id, p);
        }
      }
      // Every field is now kept unless malformed: anything more is an endpoint the peer no longer reports.
      if (byEndpoint.size !== fields.size - malformed) {
        for (const id of [...byEndpoint.keys()]) {
          if (fields.has(id)) continue;
          byEndpoint.delete(id);
          touched.add(id);
        }
      }
      this.peers.set(origin, byEndpoint);
    }
    // Local-only: nothing another replica reported is counted (it can no longer be corrected by its reports).
    if (!view.connected && wasConnected) {
      for (const id of this.sums.keys()) touched.add(id);
      this.peers.clear();
    }
    for (const id of touched) this.resum(id);
    this.rebase(view.connected ? view.peers.size : 0);
  }

  /**
   * After a sync: the estimates restart from the own counts now, with the others' share as now reported; endpoints
   * whose estimate this drops (they fall back to the reports) are named as changed. The new ratio alone moves no
   * member's load: every member's own base is reset here, so none has unseen own work for it to scale until its
   * next dispatch, and that dispatch is a change of the local ledger named to the same readers. This holds because
   * `options.endpoints()` is exactly the set the detectors score (the pool's members). O(endpoints).
   */
  private rebase(peers: number): void {
    let own = 0;
    let others = 0;
    let dropped: [string, InflightLoad][] | undefined;
    for (const id of this.options.endpoints()) {
      const l = this.options.local.load(id);
      const base = this.ownAtSync.get(id);
      if (this.ratio > 0 && l.requestsSinceScrape > (base?.requests ?? 0)) (dropped ??= []).push([id, this.peerLoad(id)]);
      own += l.requests;
      others += (this.sums.get(id) ?? NO_INFLIGHT).requests;
      if (l.requestsSinceScrape > 0) this.ownAtSync.set(id, { requests: l.requestsSinceScrape, tokens: l.tokensSinceScrape });
      else this.ownAtSync.delete(id);
    }
    // Nothing in flight anywhere: assume the others take what this replica takes (a burst spread over every
    // replica). Only the others busy: their next dispatches follow their own traffic, not this replica's.
    this.ratio = peers === 0 ? 0 : own === 0 ? (others === 0 ? peers : 0) : Math.min(peers, others / own);
    for (const [id, before] of dropped ?? []) this.settle(id, before, this.peerLoad(id));
  }

  /**
   * One version step, named to the change listeners, if the endpoint's peer load moved from `before` to `after`;
   * the drop listeners hear of it too when any part of it fell (requests or tokens, in flight or unseen) or the
   * finished-work credit grew: the gate may reopen there. O(listeners).
   */
  private settle(endpointId: string, before: InflightLoad, after: InflightLoad): void {
    if (sameLoad(before, after)) return;
    this.changes++;
    for (const l of this.changeListeners) l(endpointId);
    if (
      after.requests < before.requests ||
      after.tokens < before.tokens ||
      after.requestsSinceScrape < before.requestsSinceScrape ||
      after.tokensSinceScrape < before.tokensSinceScrape ||
      (after.requestsEndedSinceScrape ?? 0) > (before.requestsEndedSinceScrape ?? 0) ||
      (after.tokensEndedSinceScrape ?? 0) > (before.tokensEndedSinceScrape ?? 0)
    ) {
      for (const l of this.listeners) l(endpointId);
    }
  }

  /** Re-sums the peers' reports on one endpoint, a change if the sum moved (the estimate adds to it). O(peers). */
  private resum(endpointId: string): void {
    const scrapedAt = this.scrapedAt.get(endpointId) ?? Number.NEGATIVE_INFINITY;
    let requests = 0;
    let tokens = 0;
    let reqSince = 0;
    let tokSince = 0;
    let reqEnded = 0;
    let tokEnded = 0;
    for (const byEndpoint of this.peers.values()) {
      const p = byEndpoint.get(endpointId);
      if (p === undefined) continue;
      requests += p.requests;
      tokens += p.tokens;
      if (p.at >= scrapedAt) {
        reqSince += p.requestsSinceScrape;
        tokSince += p.tokensSinceScrape;
        reqEnded += p.requestsEndedSinceScrape;
        tokEnded += p.tokensEndedSinceScrape;
      }
    }
    const old = this.sums.get(endpointId) ?? NO_INFLIGHT;
    const sum = { requests, tokens, requestsSinceScrape: reqSince, tokensSinceScrape: tokSince, requestsEndedSinceScrape: reqEnded, tokensEndedSinceScrape: tokEnded };
    if (sameLoad(old, sum)) return;
    if (requests === 0 && reqSince === 0 && reqEnded === 0) this.sums.delete(endpointId);
    else this.sums.set(endpointId, Object.freeze(sum));
    this.settle(endpointId, old, sum);
  }
}

/** Whether two peer loads count the same (peers report no unstarted prompts). */
function sameLoad(a: InflightLoad, b: InflightLoad): boolean {
  return (
    a.requests === b.requests &&
    a.tokens === b.tokens &&
    a.requestsSinceScrape === b.requestsSinceScrape &&
    a.tokensSinceScrape === b.tokensSinceScrape &&
    (a.requestsEndedSinceScrape ?? 0) === (b.requestsEndedSinceScrape ?? 0) &&
    (a.tokensEndedSinceScrape ?? 0) === (b.tokensEndedSinceScrape ?? 0)
  );
}
