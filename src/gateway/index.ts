// Public surface of src/gateway: the data-plane contract and the request pipeline behind it.
export {
  type InferenceRequest,
  type ResponseObserver,
  type ResponseEnd,
  type EvictionChannel,
  type Decision,
  type RouteDecision,
  type RejectDecision,
  type RequestHandler,
  HEADER_DESTINATION,
  HEADER_DESTINATION_SERVED,
  HEADER_DESTINATION_SUBSET,
  HEADER_OBJECTIVE,
  HEADER_FAIRNESS_ID,
  HEADER_REQUEST_ID,
  HEADER_MODEL_NAME,
  HEADER_DROP_REASON,
  METADATA_NAMESPACE_LB,
  METADATA_NAMESPACE_SUBSET,
} from './contract.js';
export {
  RequestPipeline,
  type PipelineOptions,
  type LivePipelineOptions,
  type FlowControlPort,
  type SchedulerPort,
  type PrefixHasherPort,
  type InflightPort,
  type ModelRewritePort,
  CHARS_PER_TOKEN,
  DEFAULT_EXPECTED_OUTPUT_TOKENS,
} from './pipeline.js';
export {
  type IdentityOptions,
  type ObjectiveLookup,
  type RequestIdentity,
  resolveIdentity,
  DEFAULT_FAIRNESS_ID,
} from './request-identity.js';
export { type ApiKind, type ParsedBody, type BodyParseResult, parseRequestBody, apiKindOf } from './body-parser.js';
export { UsageReader, type TokenUsage, DEFAULT_USAGE_TAIL_BYTES } from './usage-reader.js';
export { type GatewayObserver, type ConnectFailureEvent, type DecisionEvent, type ResponseEvent, type ServedEvent, type RefusedEvent, type RefusalObserver, type RequestLabels, noopGatewayObserver, fanOutGatewayObserver, reportRefusal } from './observer.js';
export {
  type RetryAdvice,
  DEFAULT_RETRY_ADVICE,
  POOL_UNREACHABLE,
  MODEL_NOT_FOUND,
  MODEL_UNAVAILABLE,
  rejectionFor,
  evictedInFlight,
} from './outcome-response.js';
export { EvictionRelay, type StartedResponseEviction, DEFAULT_STARTED_RESPONSE_EVICTION } from './eviction-relay.js';
export { StreamProgress } from './stream-progress.js';
export { openAiErrorBody, ERROR_CONTENT_TYPE } from './error-body.js';
export {
  HEADER_TTL_MS,
  HEADER_TTFT_SLO_MS,
  MAX_HEADER_MS,
  type ControlHeaders,
  readControlHeaders,
  CONTROL_HEADERS,
  type ControlHeader,
  readControlHeader,
  controlHeaderValue,
} from './control-headers.js';
export {
  ModelRewriter,
  type RewriteSet,
  type RewriteRule,
  type RewriteTarget,
  type RewriteDecision,
  type InferenceModelRewriteSpec,
  rewriteSetFromSpec,
} from './rewrite/model-rewriter.js';
export { WeightedSplitter } from './rewrite/weighted-splitter.js';
export { findBodyModel, replaceBodyModel, withBodyModel } from './rewrite/body-model.js';
export { type BodyBytes, type RequestBody, BodyReader, bodyChunks, bodyToBuffer, scanBody, replaceRange } from './body/request-body.js';
export { BodyScanner, type BodyScanResult, type ScannedBody, MAX_JSON_DEPTH } from './body/body-scanner.js';
export { BodyText, ChunkList, MAX_DECODED_BYTES } from './body/body-text.js';
export { EndpointWaitingRoom, type WaitResult } from './waiting-room.js';
export { PendingRequests, type PendingCount, type PendingStage } from './pending-requests.js';
