// Metric names: the Go EPP's names where Fairway has an equivalent (dashboards keep working), then Fairway's own.
// Every name is emitted with the optional prefix of `FairwayMetricsOptions` prepended.

/** Names of the Go reference (`pkg/epp/metrics`), kept byte for byte for dashboard compatibility. */
export const GO_METRICS = {
  queueDuration: 'inference_extension_flow_control_request_queue_duration_seconds',
  dispatchCycleDuration: 'inference_extension_flow_control_dispatch_cycle_duration_seconds',
  queueSize: 'inference_extension_flow_control_queue_size',
  queueBytes: 'inference_extension_flow_control_queue_bytes',
  poolSaturation: 'inference_extension_flow_control_pool_saturation',
  requestTotal: 'inference_objective_request_total',
  requestDuration: 'inference_objective_request_duration_seconds',
  inputTokens: 'inference_objective_input_tokens',
  outputTokens: 'inference_objective_output_tokens',
  poolAvgKvCache: 'inference_pool_average_kv_cache_utilization',
  poolAvgQueueSize: 'inference_pool_average_queue_size',
  poolReadyPods: 'inference_pool_ready_pods',
  schedulerE2eDuration: 'inference_extension_scheduler_e2e_duration_seconds',
  /** llm-d-router's (`pkg/epp/metrics`, subsystem `llm_d_epp`). */
  modelRewriteDecisions: 'llm_d_epp_model_rewrite_decisions_total',
} as const;

/** Fairway's own metrics: what the Go EPP does not export. */
export const FAIRWAY_METRICS = {
  shedRequests: 'fairway_shed_requests_total',
  saturation: 'fairway_saturation',
  staleEndpoints: 'fairway_stale_endpoints',
  /** Every endpoint in the pool; `inference_pool_ready_pods` counts only those that can take work now. */
  poolEndpoints: 'fairway_pool_endpoints',
  /** 0 while no endpoint has answered for `pool.unreachableAfterMs` or `pool.unresponsiveAfterMs` (requests get 503 `pool-unreachable`), else 1. */
  poolReachable: 'fairway_pool_reachable',
  endpointSaturation: 'fairway_endpoint_saturation',
  tenantServedTokens: 'fairway_tenant_served_tokens_total',
  inflightRequests: 'fairway_inflight_requests',
  liveFlows: 'fairway_live_flows',
  bandFlows: 'fairway_band_flows',
  bandCeiling: 'fairway_band_ceiling',
  bandOldestWait: 'fairway_band_oldest_wait_seconds',
  fairnessJainIndex: 'fairway_fairness_jain_index',
  fairnessActiveTenants: 'fairway_fairness_active_tenants',
  upstreamConnectFailures: 'fairway_upstream_connect_failures_total',
  /** Failed scrapes of model-server metrics, by `reason`. */
  metricsScrapeFailures: 'fairway_metrics_scrape_failures_total',
  /** Endpoints whose scrapes fail now, by the `reason` of the latest failure (read at scrape time). */
  metricsScrapeFailingEndpoints: 'fairway_metrics_scrape_failing_endpoints',
  /**
   * Scrape outcomes merged away before the dispatch thread applied them (it fell behind the scrape worker): rising,
   * the dispatch thread is short of CPU.
   */
  metricsScrapeOutcomesMerged: 'fairway_metrics_scrape_outcomes_merged_total',
  /** Requests a fallback endpoint served instead of the primary (its in-flight count and prefix moved to it). */
  fallbackServed: 'fairway_fallback_served_total',
  /**
   * Requests not yet routed, by `stage` (`waiting-for-endpoints`: the pool has no endpoints and the scale-from-zero
   * waiting room holds them; `queued`: in flow control), `priority` and `target_model_name`: an autoscaler's input.
   */
  pendingRequests: 'fairway_pending_requests',
  /**
   * In-flight evictions carried out (the victim's front end aborted it and answered the client), labelled by the
   * victim's band (`priority`), `reason` (`preempted`: made room for blocked higher-priority work) and
   * `for_priority` (the band it made room for).
   */
  inflightEvictions: 'fairway_inflight_evictions_total',
  /**
   * Eviction attempts the victim's front end declined (its response had completed, or had started and started
   * responses are spared), by the victim's `priority` and `reason`.
   */
  inflightEvictionsDeclined: 'fairway_inflight_evictions_declined_total',
  /** Dispatched requests that may still be evicted in flight (sheddable, not yet chosen), read at scrape time. */
  evictableInflight: 'fairway_evictable_inflight_requests',
  /** Queued requests held by their tenant's concurrency cap (`limits`, `tenants.<id>.maxConcurrency`). */
  heldAtCaps: 'fairway_requests_held_at_cap',
  sharedStateUp: 'fairway_shared_state_up',
  sharedStatePeers: 'fairway_shared_state_peers',
  sharedStateScrapeLeader: 'fairway_shared_state_scrape_leader',
  sharedStateRounds: 'fairway_shared_state_rounds_total',
  sharedStateRoundDuration: 'fairway_shared_state_round_duration_seconds',
} as const;

/** Histogram buckets, in the Go reference's units (seconds, tokens) so quantile queries line up. */
export const BUCKETS = {
  /** 100 us to 60 s: queue waits range from nothing to a TTL. */
  queueSeconds: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  /** 100 us to 100 ms: in-process work (a dispatch cycle, one scheduling decision). */
  fastSeconds: [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1],
  /** 5 ms to 1 h: whole requests, streaming ones included. */
  requestSeconds: [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 120, 180, 240,
    300, 360, 480, 600, 900, 1200, 1800, 2700, 3600,
  ],
  /** Up to a 1M-token context window. */
  inputTokens: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576],
  outputTokens: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
} as const;
