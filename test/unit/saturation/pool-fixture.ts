// Builds real pools (PoolStore + InflightTracker on a ManualClock) for detector tests.
import { ManualClock } from '../../../src/core/index.js';
import { type EndpointMetrics, InflightTracker, PoolStore } from '../../../src/datalayer/index.js';

export interface EndpointState {
  readonly waiting: number;
  readonly kv: number;
  /** Age of the metrics in ms at the fixture's "now"; undefined = never scraped. */
  readonly ageMs?: number;
  /** Scrape failed since (store-flagged stale). */
  readonly failed?: boolean;
  readonly blockSize?: number;
  readonly numBlocks?: number;
}

export function metrics(waiting: number, kv: number, geometry: { blockSize?: number; numBlocks?: number } = {}): EndpointMetrics {
  return {
    waitingQueue: waiting,
    runningRequests: 0,
    kvCacheUsage: kv,
    loraRunning: [],
    loraWaiting: [],
    maxLora: 0,
    ...(geometry.blockSize !== undefined ? { kvBlockSize: geometry.blockSize, kvNumBlocks: geometry.numBlocks } : {}),
  };
}

export interface Fixture {
  readonly clock: ManualClock;
  readonly store: PoolStore;
  readonly inflight: InflightTracker;
  readonly ids: string[];
  /** Lands a new scrape for one endpoint now (and resets its since-scrape counts, as the monitor does). */
  scrape(id: string, waiting: number, kv: number): void;
}

/** Time starts at 10 s so that metric ages up to that are expressible. Store staleness is disabled (huge). */
export function poolOf(states: readonly EndpointState[]): Fixture {
  const clock = new ManualClock(10_000);
  const store = new PoolStore({ clock, staleAfterMs: 1e12 });
  const inflight = new InflightTracker({ clock });
  const ids: string[] = [];
  states.forEach((s, i) => {
    const id = store.upsert({ host: `10.0.0.${i + 1}`, port: 8000 });
    ids.push(id);
    if (s.ageMs !== undefined) {
      store.recordMetrics(id, metrics(s.waiting, s.kv, s), clock.now() - s.ageMs);
    }
    if (s.failed === true) store.recordFailure(id);
  });
  return {
    clock,
    store,
    inflight,
    ids,
    scrape(id, waiting, kv) {
      inflight.markScraped(id, clock.now());
      const previous = store.current().endpoints.find((e) => e.id === id)?.metrics;
      store.recordMetrics(id, { ...metrics(waiting, kv), ...(previous?.kvBlockSize !== undefined ? { kvBlockSize: previous.kvBlockSize, kvNumBlocks: previous.kvNumBlocks } : {}) }, clock.now());
    },
  };
}
