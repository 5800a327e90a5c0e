// Endpoint snapshots: the immutable view of the pool that saturation detectors and the scheduler read.
import { type ScrapeFailureReason } from './scrape-failure.js';

/** Metrics scraped from one model server, normalised across engines (vLLM, SGLang, TensorRT-LLM). */
export interface EndpointMetrics {
  /** Requests waiting in the server's own queue. */
  readonly waitingQueue: number;
  /** Requests the server is running (batch occupancy). */
  readonly runningRequests: number;
  /** KV-cache usage in [0, 1]. */
  readonly kvCacheUsage: number;
  /** LoRA adapters loaded and running (from `vllm:lora_requests_info`); empty when unknown. */
  readonly loraRunning: readonly string[];
  /** LoRA adapters requested but waiting to load. */
  readonly loraWaiting: readonly string[];
  /** Maximum adapters the server holds at once; 0 when unknown. */
  readonly maxLora: number;
  /** KV block size in tokens and number of GPU blocks, from `cache_config_info`, when reported. */
  readonly kvBlockSize?: number;
  readonly kvNumBlocks?: number;
}

/** One model-server endpoint as of one moment. Never mutated: a new snapshot replaces it. */
export interface EndpointSnapshot {
  /** `host:port`, with IPv6 hosts bracketed (`[::1]:8000`): the exact string sent to the proxy. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Last good scrape; undefined until the first one succeeds. */
  readonly metrics: EndpointMetrics | undefined;
  /** Clock time (ms) of the last good scrape; undefined until the first one succeeds. */
  readonly scrapedAt: number | undefined;
  /** True once the last scrape failed or metrics are older than the staleness limit. */
  readonly stale: boolean;
  /**
   * Set while scrapes fail: why the latest one failed. Absent once a scrape succeeds. An endpoint stale only
   * because its metrics aged has no failure.
   */
  readonly scrapeFailure?: ScrapeFailureInfo;
}

export interface ScrapeFailureInfo {
  readonly reason: ScrapeFailureReason;
}

/** The whole pool as of one moment; swapped whole on every change (copy-on-write). */
export interface PoolSnapshot {
  /** Increases by one on every change. */
  readonly version: number;
  readonly takenAt: number;
  readonly endpoints: readonly EndpointSnapshot[];
}

/** Where consumers get the current pool. Owned here because every consumer reads the same shape. */
export interface PoolView {
  current(): PoolSnapshot;
  /** Called after each new snapshot; returns the unsubscribe function. */
  subscribe(listener: (snapshot: PoolSnapshot) => void): () => void;
}

/** Formats `host:port` the way the proxy expects (IPv6 in brackets). */
export function endpointId(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
