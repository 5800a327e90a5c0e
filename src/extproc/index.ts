// Public surface of src/extproc: the Envoy ext_proc service, the gRPC health service, and their protos.
export {
  ExtProcService,
  type ExtProcServiceOptions,
  type StartedServer,
  DEFAULT_BODY_CHUNK_BYTES,
  DEFAULT_MAX_REQUEST_BODY_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_HTTP2_WINDOW_BYTES,
} from './ext-proc-service.js';
export { type Http2Windows, HTTP2_CONNECTION_WINDOW_STREAMS, HTTP2_DEFAULT_WINDOW_BYTES, applyHttp2Windows, windowsForStream } from './http2-windows.js';
export {
  HealthService,
  type HealthServiceOptions,
  type ServingStatus,
  HEALTH_SERVICE_NAME,
  DEFAULT_HEALTH_SERVICES,
  healthServiceDefinition,
} from './health-service.js';
export { ExtProcStream, type ExtProcStreamOptions, type StreamTransport, type StreamFailure } from './ext-proc-stream.js';
export {
  EXT_PROC_SERVICE_NAME,
  PROTO_LOADER_OPTIONS,
  type ExtProcProtos,
  loadExtProcProtos,
  envoyProtoIncludeDirs,
  addStreamedBodyResponse,
  addProtocolConfiguration,
} from './protos.js';
export { type ProcessingResponse } from './responses.js';
export {
  type BodyModes,
  type BodySendMode,
  BODY_SEND_MODES,
  DEFAULT_BODY_MODES,
} from './processing-mode.js';
export { type ProcessingMessage, type HeaderList, type FilterMetadata, parseProcessingRequest } from './processing-request.js';
export { type ListenOptions, type TlsOption, DEFAULT_LISTEN_HOST } from './server-credentials.js';
export { type CertificateAndKey, type SelfSignedOptions, generateSelfSignedCertificate } from './self-signed-cert.js';
