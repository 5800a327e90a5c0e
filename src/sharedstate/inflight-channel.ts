// Implements the data layer's PeerInflightSource over the shared-state exchange: publishes this replica's own
// in-flight ledger per endpoint, and sums the other replicas' into one load per endpoint, so detectors and scorers
// count every replica's dispatches (no herding across replicas between two scrapes).
//
// "Since the last scrape" across replicas. Each replica publishes, with its counts, the time it read them (in the
// pool's common time base). Every dispatch a publication counts began before that time; so once this replica
// applies a scrape of the endpoint sent after it, those dispatches are in the scrape's metrics, and the
// publication's since-scrape counts and finished-work credit are dropped. Until then they count (the safe error:
// work counted twice for at most a sync interval, never work missed). Requests in flight always count until the
// peer reports them ended, or the peer's data expires (3 sync intervals after it stopped syncing).
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

  constructor(options: InflightChannelOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
  }

  get version(): number {
    return this.changes;
  }

  peerLoad(endpointId: string): InflightLoad {
    return this.sums.get(endpointId) ?? NO_INFLIGHT;
  }

  onDrop(listener: (endpointId: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  markScraped(endpointId: string, takenAt: number): void {
    this.scrapedAt.set(endpointId, takenAt);
    this.resum(endpointId);
  }

  forget(endpointId: string): void {
    this.scrapedAt.delete(endpointId);
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
