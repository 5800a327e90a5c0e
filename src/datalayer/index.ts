// Public surface of src/datalayer: endpoints, their metrics, and Fairway's own in-flight accounting.
export {
  type EndpointMetrics,
  type EndpointSnapshot,
  type PoolSnapshot,
  type PoolView,
  type ScrapeFailureInfo,
  endpointId,
} from './endpoint.js';
export {
  type InflightLoad,
  type InflightView,
  type InflightFeed,
  type ScrapeListener,
  NO_INFLIGHT,
} from './inflight.js';
export { type InflightTicket, type InflightTrackerOptions, InflightTracker } from './inflight-tracker.js';
export { type PeerInflightSource } from './peer-inflight.js';
export { CombinedInflight } from './combined-inflight.js';
/** How many scrape outcomes may wait for the dispatch thread as received before the backlog merges (metrics help). */
export { MERGE_ABOVE } from './scrape-wire.js';
export { fanOutScrapes } from './scrape-fan-out.js';
export {
  type ReachabilityState,
  type ReachabilityView,
  type PoolReachabilityOptions,
  type UnreachableKind,
  PoolReachability,
  DEFAULT_UNREACHABLE_AFTER_MS,
  DEFAULT_UNRESPONSIVE_AFTER_MS,
} from './pool-reachability.js';
export { type PoolFeed } from './pool-feed.js';
export { type EndpointSaturationView, hasHeadroom } from './endpoint-saturation.js';
export {
  type PromSample,
  type ParsedMetrics,
  type ParseOptions,
  parsePrometheusText,
  parseSampleLine,
} from './prometheus-text.js';
export {
  type PageReadResult,
  type MetricsPageReaderOptions,
  MetricsPageReader,
  DEFAULT_MAX_LINE_BYTES,
} from './metrics-page-reader.js';
export {
  type ScrapeFailureReason,
  SCRAPE_FAILURE_REASONS,
  ScrapeFailure,
  isUnreachableReason,
  toScrapeFailure,
} from './scrape-failure.js';
export {
  type EngineName,
  type EngineMetricNames,
  type CacheConfigMapping,
  type ExtractResult,
  ENGINE_NAMES,
  VLLM_METRICS,
  SGLANG_METRICS,
  TRTLLM_METRICS,
  DEFAULT_ENGINE_METRICS,
  familiesOf,
  extractEndpointMetrics,
} from './engine-metrics.js';
export {
  type MetricsTarget,
  type MetricsFetcher,
  type MetricsFetcherFactory,
  type MetricsBodySink,
  type FetchDone,
  type MetricsTlsOptions,
  type HttpMetricsFetcherOptions,
  HttpMetricsFetcher,
  httpMetricsFetcherFactory,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_KEEP_ALIVE_MS,
} from './metrics-fetcher.js';
export {
  type ScrapeOutcome,
  type MetricsScraperOptions,
  MetricsScraper,
  DEFAULT_SCRAPE_INTERVAL_MS,
  DEFAULT_SCRAPE_TIMEOUT_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_FULL_READ_EVERY,
} from './metrics-scraper.js';
export {
  type EndpointSpec,
  type EndpointSource,
  StaticEndpointSource,
  validateEndpointSpec,
} from './endpoint-source.js';
export { type PoolStoreOptions, PoolStore, DEFAULT_STALE_AFTER_MS } from './pool-store.js';
export {
  type AdaptiveIntervalOptions,
  AdaptiveInterval,
  validateAdaptiveInterval,
  DEFAULT_KV_NEAR_FULL,
} from './adaptive-interval.js';
export {
  type ScheduledScrape,
  type ScrapeTask,
  type ScrapeSchedulerOptions,
  ScrapeScheduler,
  MIN_IN_FLIGHT,
  maxInFlightFor,
} from './scrape-scheduler.js';
export {
  type ScrapeJob,
  type ScrapeRunner,
  type ScrapeTiming,
  type InThreadScrapeRunnerOptions,
  InThreadScrapeRunner,
} from './scrape-runner.js';
export { type WorkerScrapeRunnerOptions, WorkerScrapeRunner, DEFAULT_SCRAPE_WORKER_NICE } from './worker-scrape-runner.js';
export { type BackgroundPriorityResult, type ThreadPriorityResult, lowerBackgroundThreads, lowerThreadPriority } from './thread-priority.js';
export { type PoolMonitorOptions, type ScrapeObserver, PoolMonitor, AUTO_WORKER_ENDPOINTS, DEFAULT_METRICS_PATH, DEFAULT_ENGINE } from './pool-monitor.js';
export {
  type ServedModels,
  type ServedModelsView,
  UNKNOWN_MODELS,
  parseModelList,
  listsModel,
} from './served-models.js';
export {
  type ModelListAnswer,
  type ModelListClient,
  type ModelListAccess,
  type ModelPollerOptions,
  ModelPoller,
  HttpModelListClient,
  DEFAULT_MODELS_PATH,
  DEFAULT_MODELS_INTERVAL_MS,
  DEFAULT_MODELS_TIMEOUT_MS,
} from './model-poller.js';
