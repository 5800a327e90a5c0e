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
  };
}

/**
 * Complexity: peerLoad O(1); per sync O(endpoints) to publish and O(peers x endpoints) to re-sum the endpoints
 * whose peer data changed; per applied scrape O(peers) for that endpoint.
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
  private changes = 0;
  private connected = false;
  /** The others' requests in flight per own request, as of the last sync (see the header); 0 while local-only. */
  private ratio = 0;
  /** Own since-scrape counts per endpoint at the last sync: what the others' reports may already reflect. */
  private readonly ownAtSync = new Map<string, { requests: number; tokens: number }>();
  /** Estimated loads, cached per (reported, own) pair so that reads allocate only when something changed. */
  private readonly estimates = new Map<string, { reported: InflightLoad; own: InflightLoad; ratio: number; load: InflightLoad }>();

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
    if (c !== undefined && c.reported === reported && c.own === own && c.ratio === this.ratio) return c.load;
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
    this.estimates.set(endpointId, { reported, own, ratio: this.ratio, load });
    return load;
  }

  onDrop(listener: (endpointId: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  markScraped(endpointId: string, takenAt: number): void {
    this.scrapedAt.set(endpointId, takenAt);
    // The local ledger restarts its since-scrape counts: what it counts from now on is all unseen by the others.
    this.ownAtSync.delete(endpointId);
    this.resum(endpointId);
  }

  forget(endpointId: string): void {
    this.scrapedAt.delete(endpointId);
    this.ownAtSync.delete(endpointId);
    this.estimates.delete(endpointId);
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
      for (const id of this.peers.get(origin)?.keys() ?? []) touched.add(id);
      const fields = view.peers.get(origin);
      if (fields === undefined || !view.connected) {
        this.peers.delete(origin);
        continue;
      }
      const byEndpoint = new Map<string, Published>();
      for (const [id, value] of fields) {
        const p = decode(value, view.toLocal);
        if (p === undefined) continue;
        byEndpoint.set(id, p);
        touched.add(id);
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

  /** After a sync: the estimates restart from the own counts now, with the others' share as now reported. */
  private rebase(peers: number): void {
    const dropped: string[] = [];
    let own = 0;
    let others = 0;
    for (const id of this.options.endpoints()) {
      const l = this.options.local.load(id);
      const base = this.ownAtSync.get(id);
      if (this.ratio > 0 && l.requestsSinceScrape > (base?.requests ?? 0)) dropped.push(id);
      own += l.requests;
      others += (this.sums.get(id) ?? NO_INFLIGHT).requests;
      if (l.requestsSinceScrape > 0) this.ownAtSync.set(id, { requests: l.requestsSinceScrape, tokens: l.tokensSinceScrape });
      else this.ownAtSync.delete(id);
    }
    // Nothing in flight anywhere: assume the others take what this replica takes (a burst spread over every
    // replica). Only the others busy: their next dispatches follow their own traffic, not this replica's.
    const ratio = peers === 0 ? 0 : own === 0 ? (others === 0 ? peers : 0) : Math.min(peers, others / own);
    // Every endpoint's estimate scales with the ratio: a new one is a change readers caching loads must see.
    if (ratio !== this.ratio) this.changes++;
    this.ratio = ratio;
    if (dropped.length > 0) {
      // Estimates fell back to the reports: the gate may reopen there.
      this.changes++;
      for (const id of dropped) for (const l of this.listeners) l(id);
    }
  }

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
    if (
      old.requests === requests &&
      old.tokens === tokens &&
      old.requestsSinceScrape === reqSince &&
      old.tokensSinceScrape === tokSince &&
      (old.requestsEndedSinceScrape ?? 0) === reqEnded &&
      (old.tokensEndedSinceScrape ?? 0) === tokEnded
    ) {
      return;
    }
    if (requests === 0 && reqSince === 0 && reqEnded === 0) this.sums.delete(endpointId);
    else {
      this.sums.set(
        endpointId,
        Object.freeze({
          requests,
          tokens,
          requestsSinceScrape: reqSince,
          tokensSinceScrape: tokSince,
          requestsEndedSinceScrape: reqEnded,
          tokensEndedSinceScrape: tokEnded,
        }),
      );
    }
    this.changes++;
    // Less load (or more finished-work credit) may reopen the gate: tell the detectors.
    if (requests < old.requests || reqSince < old.requestsSinceScrape || reqEnded > (old.requestsEndedSinceScrape ?? 0)) {
      for (const l of this.listeners) l(endpointId);
    }
  }
}
