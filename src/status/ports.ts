// What the status view reads, declared here by its consumer: the flow controller, the saturation detector, the
// endpoint pool and the in-flight ledger satisfy these shapes as they are; tests hand in plain objects.
import { type BandStats, type FlowControlStats, type FlowQueueStats } from '../flowcontrol/index.js';

/** A band's figures as flow control reports them. */
export type BandView = BandStats;
/** One flow's queue as flow control reports it. */
export type FlowQueueView = FlowQueueStats;

export interface FlowControlView {
  stats(): FlowControlStats;
  /** The flows holding the most queued requests, longest first. */
  topQueuedFlows(limit: number): readonly FlowQueueView[];
  /** Requests a tenant has queued in any band. */
  queuedFor(fairnessId: string): number;
}

export interface SaturationView {
  readonly name: string;
  details(): { readonly saturation: number; readonly staleEndpoints: number; readonly endpoints: ReadonlyMap<string, number> };
  settings(): Readonly<Record<string, number | string>>;
}

export interface EndpointView {
  readonly id: string;
  readonly metrics: { readonly kvCacheUsage: number; readonly waitingQueue: number; readonly runningRequests: number } | undefined;
  /** Clock time (ms) of the last good scrape. */
  readonly scrapedAt: number | undefined;
  readonly stale: boolean;
}

export interface PoolReader {
  current(): { readonly endpoints: readonly EndpointView[] };
}

export interface InflightReader {
  load(endpointId: string): { readonly requests: number };
}

/** Everything the status view reads besides its own recorder. */
export interface StatusSources {
  readonly flowControl: FlowControlView;
  readonly saturation: SaturationView;
  readonly pool: PoolReader;
  readonly inflight: InflightReader;
}
