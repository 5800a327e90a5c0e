// Port: what the other replicas of the pool have in flight on each endpoint, so detectors and scorers count their
// dispatches too (no herding across replicas between two scrapes). Implemented in src/sharedstate from the last
// sync; read synchronously, never awaited.
import { type InflightLoad } from './inflight.js';

export interface PeerInflightSource {
  /**
   * The other replicas' load on the endpoint, summed: their requests in flight, and of those the ones dispatched
   * after the endpoint's last scrape that this replica applied (work its metrics cannot show yet), plus their
   * finished-work credit. NO_INFLIGHT when none. O(1).
   */
  peerLoad(endpointId: string): InflightLoad;
  /** Increases on every change of any peer load. */
  readonly version: number;
  /** Called after a peer load on the endpoint dropped (work finished, or a scrape saw it); returns unsubscribe. */
  onDrop(listener: (endpointId: string) => void): () => void;
  /**
   * Called with the endpoint whose peer load changed, once for each increase of `version`, as
   * `InflightFeed.onLoadChange` promises, so a consumer keeping per-endpoint results redoes only that endpoint's
   * after a sync round. Versions that rose without a call tell the consumer to read every endpoint again.
   * Optional: without it, every version change does. Returns the unsubscribe function.
   */
  onLoadChange?(listener: (endpointId: string) => void): () => void;
}
