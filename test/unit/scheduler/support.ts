// Builders for scheduler tests: endpoints, pools and a mutable in-flight view.
import {
  type EndpointMetrics,
  type EndpointSnapshot,
  type InflightLoad,
  type InflightView,
  NO_INFLIGHT,
  type PoolSnapshot,
} from '../../../src/datalayer/index.js';
import { PrefixIndex, type ScheduleRequest, type SchedulingContext } from '../../../src/scheduler/index.js';

export function metrics(partial: Partial<EndpointMetrics> = {}): EndpointMetrics {
  return {
    waitingQueue: 0,
    runningRequests: 0,
    kvCacheUsage: 0,
    loraRunning: [],
    loraWaiting: [],
    maxLora: 0,
    ...partial,
  };
}

/** `null` metrics: never scraped. */
export function endpoint(id: string, m: Partial<EndpointMetrics> | null = {}, stale = false): EndpointSnapshot {
  const [host = id, port = '8000'] = id.split(':');
  return {
    id,
    host,
    port: Number(port),
    labels: {},
    metrics: m === null ? undefined : metrics(m),
    scrapedAt: m === null ? undefined : 0,
    stale,
  };
}

export function pool(endpoints: readonly EndpointSnapshot[], version = 1): PoolSnapshot {
  return { version, takenAt: 0, endpoints };
}

/** In-flight accounting the test drives by hand, like the real tracker between two scrapes. */
export class FakeInflight implements InflightView {
  private readonly loads = new Map<string, InflightLoad>();

  load(endpointId: string): InflightLoad {
    return this.loads.get(endpointId) ?? NO_INFLIGHT;
  }

  set(endpointId: string, load: Partial<InflightLoad>): void {
    this.loads.set(endpointId, { ...NO_INFLIGHT, ...load });
  }

  /** One more request dispatched since the last scrape. */
  dispatch(endpointId: string, tokens = 0): void {
    const l = this.load(endpointId);
    this.loads.set(endpointId, {
      requests: l.requests + 1,
      tokens: l.tokens + tokens,
      requestsSinceScrape: l.requestsSinceScrape + 1,
      tokensSinceScrape: l.tokensSinceScrape + tokens,
    });
  }
}

export const noInflight: InflightView = { load: () => NO_INFLIGHT };

export function context(
  request: Partial<ScheduleRequest> = {},
  inflight: InflightView = noInflight,
  prefixIndex = new PrefixIndex(),
): SchedulingContext {
  return { request: { model: 'm', ...request }, pool: pool([]), inflight, prefixIndex };
}

/** Runs a scorer-like `score` and returns plain numbers. */
export function scoresOf(
  scorer: { score(ctx: SchedulingContext, c: readonly EndpointSnapshot[], out: Float64Array): void },
  candidates: readonly EndpointSnapshot[],
  ctx: SchedulingContext = context(),
): number[] {
  const out = new Float64Array(candidates.length);
  scorer.score(ctx, candidates, out);
  return [...out];
}
