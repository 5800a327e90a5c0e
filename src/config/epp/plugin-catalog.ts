// Every plug-in type the Go EPP (gateway-api-inference-extension) and llm-d-router ship, and what it becomes in
// Fairway: the same plug-in under its Fairway name, a setting elsewhere in the config, nothing (it changes nothing
// here), or a refusal naming the nearest Fairway equivalent. Parameters are translated in translate-plugins.ts.

/** How a plug-in type maps. `to` is the Fairway name where one exists. */
export type PluginMapping =
  | { readonly kind: 'filter' | 'scorer' | 'picker'; readonly to: string }
  | { readonly kind: 'fairness' | 'ordering' | 'usage-limit' | 'detector'; readonly to: string }
  /** Accepted, configures something outside the profile (prefix hashing, scraping). */
  | { readonly kind: 'prefix-producer' | 'metrics-source' }
  /** Accepted and logged once: the plug-in changes nothing in Fairway. */
  | { readonly kind: 'no-op'; readonly why: string }
  /** A decode-role filter: a no-op in a pool without prefill/decode roles (one profile). */
  | { readonly kind: 'decode-filter' }
  /** The one-profile handler: Fairway runs exactly one profile. */
  | { readonly kind: 'profile-handler' }
  | { readonly kind: 'unsupported'; readonly nearest: string };

const unsupported = (nearest: string): PluginMapping => ({ kind: 'unsupported', nearest });
const noOp = (why: string): PluginMapping => ({ kind: 'no-op', why });
const PD = 'none: Fairway has no prefill/decode (or encode) disaggregation; serve the pool with one profile';
const SAME_PICK = 'Fairway records the endpoint Envoy reports in x-gateway-destination-endpoint-served itself';

export const PLUGIN_CATALOG: ReadonlyMap<string, PluginMapping> = new Map<string, PluginMapping>([
  // Scorers with a Fairway counterpart of the same name.
  ['queue-scorer', { kind: 'scorer', to: 'queue-scorer' }],
  ['kv-cache-utilization-scorer', { kind: 'scorer', to: 'kv-cache-utilization-scorer' }],
  // The Go EPP's earlier name of the same scorer (its v0.5 releases).
  ['kv-cache-scorer', { kind: 'scorer', to: 'kv-cache-utilization-scorer' }],
  ['prefix-cache-scorer', { kind: 'scorer', to: 'prefix-cache-scorer' }],
  ['lora-affinity-scorer', { kind: 'scorer', to: 'lora-affinity-scorer' }],
  ['running-requests-size-scorer', { kind: 'scorer', to: 'running-requests-size-scorer' }],
  ['token-load-scorer', { kind: 'scorer', to: 'token-load-scorer' }],
  ['active-request-scorer', { kind: 'scorer', to: 'inflight-load-scorer' }],
  ['load-aware-scorer', { kind: 'scorer', to: 'load-aware-scorer' }],
  ['session-affinity-scorer', { kind: 'scorer', to: 'session-affinity-scorer' }],
  ['no-hit-lru-scorer', { kind: 'scorer', to: 'no-hit-lru-scorer' }],
  ['precise-prefix-cache-scorer', unsupported('prefix-cache-scorer (approximate: routing history, no KV events)')],
  ['latency-scorer', unsupported('queue-scorer with inflight-load-scorer; order by TTFT objective with the slo-deadline ordering')],
  ['mm-embeddings-cache-scorer', unsupported('prefix-cache-scorer')],
  ['endpoint-attribute-scorer', unsupported('none (score by pod attributes); pool.endpoints[].labels carry labels only')],
  ['header-label-affinity-scorer', unsupported('the proxy\'s x-gateway-destination-endpoint-subset hint')],
  ['topology-affinity-scorer', unsupported('none')],
  ['multicluster-kv-cache-utilization-scorer', unsupported('kv-cache-utilization-scorer (one cluster)')],
  ['multicluster-prefix-cache-scorer', unsupported('prefix-cache-scorer (one cluster)')],
  ['multicluster-queue-scorer', unsupported('queue-scorer (one cluster)')],

  // Filters.
  ['utilization-filter', { kind: 'filter', to: 'saturation-filter' }],
  ['decode-filter', { kind: 'decode-filter' }],
  ['prefill-filter', unsupported(PD)],
  ['encode-filter', unsupported(PD)],
  ['label-selector-filter', unsupported('the InferencePool selector, or the proxy\'s x-gateway-destination-endpoint-subset hint')],
  ['by-label', unsupported('the InferencePool selector, or the proxy\'s x-gateway-destination-endpoint-subset hint')],
  ['by-label-selector', unsupported('the InferencePool selector, or the proxy\'s x-gateway-destination-endpoint-subset hint')],
  ['endpoint-attribute-filter', unsupported('none')],
  ['header-based-testing-filter', unsupported('the x-gateway-destination-endpoint-subset hint')],
  ['prefix-cache-affinity-filter', unsupported('prefix-cache-scorer')],
  ['slo-headroom-tier-filter', unsupported('saturation-filter')],
  ['session-affinity-filter', unsupported('session-affinity-scorer (prefers the session\'s endpoint while it has headroom)')],
  ['multicluster-session-affinity-filter', unsupported('session-affinity-scorer (one cluster)')],
  ['topology-affinity-filter', unsupported('none')],
  ['context-length-aware', unsupported('none')],
  // The Go EPP's legacy filter tree (v0.5 releases), which its scoring profiles replaced.
  ['decision-tree-filter', unsupported('one profile of queue-scorer, kv-cache-utilization-scorer and lora-affinity-scorer behind saturation-filter (what replaced the filter tree there)')],
  ['low-queue-filter', unsupported('saturation-filter (queueDepthThreshold)')],
  ['least-queue-filter', unsupported('queue-scorer')],
  ['least-kv-cache-filter', unsupported('kv-cache-utilization-scorer')],
  ['lora-affinity-filter', unsupported('lora-affinity-scorer (with lora-capacity-filter)')],

  // Pickers and profile handlers.
  ['max-score-picker', { kind: 'picker', to: 'max-score-picker' }],
  ['random-picker', { kind: 'picker', to: 'random-picker' }],
  ['weighted-random-picker', { kind: 'picker', to: 'weighted-random-picker' }],
  ['single-profile-handler', { kind: 'profile-handler' }],
  ['pd-profile-handler', unsupported(PD)],
  ['disagg-profile-handler', unsupported(PD)],
  ['data-parallel-profile-handler', unsupported('InferencePool targetPorts: each data-parallel rank is its own endpoint already')],
  ['header-profile-handler', unsupported('none: Fairway runs one profile per pool')],
  ['prefix-based-pd-decider', unsupported(PD)],
  ['always-disagg-pd-decider', unsupported(PD)],
  ['always-disagg-multimodal-decider', unsupported(PD)],
  ['disagg-headers-handler', unsupported(PD)],
  ['prefill-header-handler', unsupported(PD)],
  ['disaggregatedset-rollout-screener', unsupported(PD)],
  ['disaggregatedset-rollout-pod-extractor', unsupported(PD)],

  // Saturation detectors.
  ['utilization-detector', { kind: 'detector', to: 'utilization' }],
  ['concurrency-detector', { kind: 'detector', to: 'concurrency' }],

  // Flow control policies.
  ['fcfs-ordering-policy', { kind: 'ordering', to: 'fcfs' }],
  ['edf-ordering-policy', { kind: 'ordering', to: 'edf' }],
  ['slo-deadline-ordering-policy', { kind: 'ordering', to: 'slo-deadline' }],
  ['global-strict-fairness-policy', { kind: 'fairness', to: 'global-strict' }],
  ['round-robin-fairness-policy', { kind: 'fairness', to: 'round-robin' }],
  ['program-aware-fairness', unsupported('weighted-fair (token-cost weighted fair queuing; per-tenant weights under tenants)')],
  ['static-usage-limit-policy', { kind: 'usage-limit', to: 'static' }],
  ['priority-holdback-policy', { kind: 'usage-limit', to: 'priority-holdback' }],
  ['soft-reflective-ceiling-policy', unsupported('priority-holdback (usageLimit), or per-band ceilings')],
  ['sheddable-eviction-filter', noOp('Fairway evicts only below flowControl.inflightEviction.belowPriority (0: sheddable work), its fixed rule')],
  ['eviction-sheddable-filter', noOp('Fairway evicts only below flowControl.inflightEviction.belowPriority (0: sheddable work), its fixed rule')],
  ['priority-then-time-eviction-order-policy', noOp('Fairway\'s victim order is lowest priority, least progress, most remaining tokens, newest')],
  ['eviction-priority-then-time-ordering', noOp('Fairway\'s victim order is lowest priority, least progress, most remaining tokens, newest')],

  // Producers and request handling.
  ['approx-prefix-cache-producer', { kind: 'prefix-producer' }],
  ['inflight-load-producer', noOp('Fairway counts its in-flight requests and tokens per endpoint itself')],
  ['destination-endpoint-served-verifier', noOp(SAME_PICK)],
  ['openai-parser', noOp('Fairway parses OpenAI-style JSON bodies (model, prompt/messages/input, stream, max_tokens)')],
  ['passthrough-parser', noOp('Fairway needs a JSON body with a model: anything else is answered 400 bad-request')],
  ['anthropic-parser', unsupported('openai-parser (OpenAI-compatible JSON bodies)')],
  ['vertexai-parser', unsupported('openai-parser (OpenAI-compatible JSON bodies)')],
  ['vllmgrpc-parser', unsupported('openai-parser over HTTP (Fairway does not parse gRPC model-server requests)')],
  ['vllmhttp-parser', unsupported('openai-parser (OpenAI-compatible JSON bodies)')],
  ['sglanghttp-parser', unsupported('openai-parser (OpenAI-compatible JSON bodies)')],
  ['burst-prefix-cache-producer', unsupported('approx-prefix-cache-producer')],
  ['precise-prefix-cache-producer', unsupported('approx-prefix-cache-producer')],
  ['multicluster-approx-prefix-cache-producer', unsupported('approx-prefix-cache-producer (one cluster)')],
  ['mm-embeddings-cache-producer', unsupported('approx-prefix-cache-producer')],
  ['p2p-source-producer', unsupported('none')],
  ['token-producer', unsupported('none: Fairway estimates tokens from the body size')],
  ['tokenizer', unsupported('none: Fairway estimates tokens from the body size')],
  ['session-id-producer', unsupported('none')],
  ['agent-identity', unsupported('the tenant header (x-gateway-inference-fairness-id, or trust.tenantHeader)')],
  ['predicted-latency-producer', unsupported('none')],
  ['latency-slo-admitter', unsupported('x-fairway-ttft-slo-ms with the slo-deadline ordering')],
  ['probabilistic-admitter', unsupported('flow control\'s band limits and priority-holdback')],
  ['request-attribute-reporter', unsupported('Fairway\'s own metrics (fairway_*)')],

  // Data layer.
  ['metrics-data-source', { kind: 'metrics-source' }],
  ['core-metrics-extractor', noOp('Fairway maps vLLM, SGLang and TensorRT-LLM metric names itself (pool.metrics.engine)')],
  ['k8s-notification-source', noOp('Fairway watches the InferencePool and its pods itself')],
  ['endpoint-notification-source', noOp('Fairway watches the InferencePool and its pods itself')],
  ['models-data-source', noOp('Fairway polls each endpoint\'s /v1/models itself (pool.models) and routes a request only where its model is served')],
  ['models-data-extractor', noOp('Fairway polls each endpoint\'s /v1/models itself (pool.models) and routes a request only where its model is served')],
  ['dcgm-data-source', unsupported('none')],
  ['dcgm-extractor', unsupported('none')],
  ['topology-extractor', unsupported('none')],
  ['multicluster-metrics-data-source', unsupported('metrics-data-source (one cluster)')],
  ['multicluster-metrics-extractor', unsupported('core-metrics-extractor (one cluster)')],
  ['multicluster-file-discovery', unsupported('--endpoints host:port,... or pool.endpoints')],
  ['file-discovery', unsupported('--endpoints host:port,... or pool.endpoints')],
  ['local-syncer', unsupported('sharedState (Redis, or --workers on one host)')],
  ['cross-replica-publisher', unsupported('sharedState (Redis, or --workers on one host)')],
]);
