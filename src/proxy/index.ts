// Public surface of src/proxy: the standalone OpenAI-compatible HTTP data plane.
export {
  ProxyServer,
  type ProxyServerOptions,
  type ProxyListenOptions,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_CONNECT_ATTEMPTS,
  DEFAULT_MAX_HEADER_BYTES,
} from './proxy-server.js';
export { isConnectError } from './upstream.js';
