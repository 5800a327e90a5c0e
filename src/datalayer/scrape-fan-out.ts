// Tells several listeners of each landed scrape, in order (the in-flight ledger first, then the shared-state
// channel that filters the other replicas' counts by the same scrape).
import { type ScrapeListener } from './inflight.js';

export function fanOutScrapes(...listeners: readonly ScrapeListener[]): ScrapeListener {
  return {
    markScraped: (endpointId, takenAt) => {
      for (const l of listeners) l.markScraped(endpointId, takenAt);
    },
    forget: (endpointId) => {
      for (const l of listeners) l.forget?.(endpointId);
    },
    scrapeFailed: (endpointId, unreachable, reason) => {
      for (const l of listeners) l.scrapeFailed?.(endpointId, unreachable, reason);
    },
  };
}
