// What the server needs of whatever keeps the pool's snapshots current: a PoolMonitor scraping every endpoint,
// or (replicas sharing state) the scrape sharing of src/sharedstate layered over one.
import { type PoolView } from './endpoint.js';

export interface PoolFeed {
  /** The published pool: immutable snapshots, O(1) to read. */
  readonly pool: PoolView;
  start(): Promise<void>;
  close(): Promise<void>;
}
