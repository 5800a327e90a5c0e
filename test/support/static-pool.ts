// A PoolView over a fixed list of endpoints with hand-set metrics, for pipeline and routing tests.
import { type EndpointMetrics, type EndpointSnapshot, type PoolSnapshot, type PoolView, endpointId } from '../../src/datalayer/index.js';

export function metrics(partial: Partial<EndpointMetrics> = {}): EndpointMetrics {
  return { waitingQueue: 0, runningRequests: 0, kvCacheUsage: 0, loraRunning: [], loraWaiting: [], maxLora: 0, ...partial };
}

export function endpoint(host: string, port: number, m: Partial<EndpointMetrics> = {}): EndpointSnapshot {
  return { id: endpointId(host, port), host, port, labels: {}, metrics: metrics(m), scrapedAt: 0, stale: false };
}

export class StaticPool implements PoolView {
  private snapshot: PoolSnapshot;
  private readonly listeners = new Set<(s: PoolSnapshot) => void>();

  constructor(endpoints: readonly EndpointSnapshot[]) {
    this.snapshot = { version: 1, takenAt: 0, endpoints };
  }

  current(): PoolSnapshot {
    return this.snapshot;
  }

  set(endpoints: readonly EndpointSnapshot[]): void {
    this.snapshot = { version: this.snapshot.version + 1, takenAt: 0, endpoints };
    for (const l of this.listeners) l(this.snapshot);
  }

  subscribe(listener: (s: PoolSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
