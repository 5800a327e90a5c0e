// Tells several listeners of each landed scrape, in order (the in-flight ledger first, then the shared-state
// channel that filters the other replicas' counts by the same scrape, then pool reachability), each guarded: one
// that throws is reported by name and the others are still told.
import { type ObserverFaults, type ObserverMethods, fanOutObservers } from '../core/index.js';
import { type ScrapeListener } from './inflight.js';

const SCRAPE_LISTENER_METHODS: ObserverMethods<ScrapeListener> = { markScraped: true, forget: true, scrapeFailed: true };

export function fanOutScrapes(listeners: Readonly<Record<string, ScrapeListener>>, faults: ObserverFaults): ScrapeListener {
  return fanOutObservers(listeners, SCRAPE_LISTENER_METHODS, faults);
}
