// Public surface of src/status: the operator's view (snapshot types, the recorder that observes flow control and
// the pipeline, the service that samples and feeds snapshots, the text rendering of `fairway top`).
export {
  type StatusSnapshot,
  type ConfigSummary,
  type PolicySummary,
  type BandConfigSummary,
  type SaturationStatus,
  type TotalsStatus,
  type BandGate,
  type BandStatus,
  type TenantsStatus,
  type ServedTenant,
  type QueuedTenant,
  type OutcomesStatus,
  type EndpointsStatus,
  type EndpointStatus,
  type HistoryStatus,
  STATUS_SCHEMA_VERSION,
} from './snapshot.js';
export { type StatusSources, type FlowControlView, type SaturationView, type PoolReader, type InflightReader } from './ports.js';
export { StatusRecorder, COUNTER, IN_FLIGHT_PREFIX, type ReasonFamily } from './status-recorder.js';
export { TenantLedger, type TenantLedgerOptions, type ServedReading, DEFAULT_ACTIVE_TICKS, DEFAULT_DECAY_TICKS, DEFAULT_TOP_N } from './tenant-ledger.js';
export { CounterHistory, type Sample } from './counter-history.js';
export { buildStatusSnapshot, type SnapshotInput } from './snapshot-builder.js';
export {
  StatusService,
  type StatusServiceOptions,
  type SnapshotListener,
  DEFAULT_STATUS_INTERVAL_MS,
  DEFAULT_HISTORY_SECONDS,
  DEFAULT_MAX_ENDPOINTS,
  DEFAULT_TOP_TENANTS,
} from './status-service.js';
export { summarizeConfig, describeProfile, type ConfigSummaryExtras } from './config-summary.js';
export { hashTenantName, tenantNamer, type TenantNameMode } from './tenant-names.js';
export { statusPageHtml } from './page-html.js';
export { renderStatusText, type TextRenderOptions } from './render-text.js';
