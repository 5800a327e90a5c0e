// The pool-wide in-flight view of one replica: its own ledger (exact, at once) plus what the other replicas
// reported at the last sync. Detectors, scorers and the pipeline read it exactly as they read the local ledger.
import { type InflightFeed, type InflightLoad, NO_INFLIGHT } from './inflight.js';
import { type InflightTicket, type InflightTracker } from './inflight-tracker.js';
import { type PeerInflightSource } from './peer-inflight.js';

interface Cached {
  readonly local: InflightLoad;
  readonly peer: InflightLoad;
  readonly sum: InflightLoad;
}

/**
 * Complexity: load O(1) (the sum is cached until either side's view of the endpoint changes); begin and end are
 * the local tracker's.
 */
export class CombinedInflight implements InflightFeed {
  private readonly cache = new Map<string, Cached>();

  constructor(
    readonly local: InflightTracker,
    private readonly peers: PeerInflightSource,
  ) {}

  get version(): number {
    return this.local.version + this.peers.version;
  }

  begin(endpointId: string, estimatedTokens: number, unstartedTokens = 0): InflightTicket {
    return this.local.begin(endpointId, estimatedTokens, unstartedTokens);
  }

  started(ticket: InflightTicket): boolean {
    return this.local.started(ticket);
  }

  end(ticket: InflightTicket): boolean {
    return this.local.end(ticket);
  }

  move(ticket: InflightTicket, endpointId: string): InflightTicket {
    return this.local.move(ticket, endpointId);
  }

  load(endpointId: string): InflightLoad {
    const local = this.local.load(endpointId);
    const peer = this.peers.peerLoad(endpointId);
    if (peer === NO_INFLIGHT) return local;
    const c = this.cache.get(endpointId);
    if (c !== undefined && c.local === local && c.peer === peer) return c.sum;
    const sum: InflightLoad = Object.freeze({
      requests: local.requests + peer.requests,
      tokens: local.tokens + peer.tokens,
      requestsSinceScrape: local.requestsSinceScrape + peer.requestsSinceScrape,
      tokensSinceScrape: local.tokensSinceScrape + peer.tokensSinceScrape,
      requestsEndedSinceScrape: (local.requestsEndedSinceScrape ?? 0) + (peer.requestsEndedSinceScrape ?? 0),
      tokensEndedSinceScrape: (local.tokensEndedSinceScrape ?? 0) + (peer.tokensEndedSinceScrape ?? 0),
      // Peers do not report their unstarted prompts (a backlog lasts a step or two, shorter than a sync).
      unstartedTokens: local.unstartedTokens ?? 0,
    });
    if (this.cache.size > 4_096) this.cache.clear(); // endpoints come and go; keep the cache bounded
    this.cache.set(endpointId, { local, peer, sum });
    return sum;
  }

  /**
   * Both sides' changes, by endpoint: the local ledger's, and the peers' when their source names them (the
   * shared-state channel does: one call per endpoint whose peer load a sync round or a scrape moved). A peer
   * source that does not shows its changes as version steps without a call, and consumers then read everything.
   */
  onLoadChange(listener: (endpointId: string) => void): () => void {
    const a = this.local.onLoadChange(listener);
    const b = this.peers.onLoadChange?.(listener);
    return () => {
      a();
      b?.();
    };
  }

  onRelease(listener: (endpointId: string) => void): () => void {
    const a = this.local.onRelease(listener);
    const b = this.peers.onDrop(listener);
    return () => {
      a();
      b();
    };
  }
}
