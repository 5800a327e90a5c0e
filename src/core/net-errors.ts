// Classification of network errors shared by the proxy (is a retry elsewhere safe?) and the data layer (is the
// endpoint reachable at all?). Reads Node's and undici's error codes, following `cause` chains.

/** The connection was never established: nothing of the request can have reached the peer. */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** An established connection was torn down by the peer or the network before an answer came. */
const RESET_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ETIMEDOUT']);

function codesOf(err: unknown, depth = 0): string[] {
  if (typeof err !== 'object' || err === null || depth > 4) return [];
  const code = 'code' in err && typeof err.code === 'string' ? [err.code] : [];
  const cause = 'cause' in err ? err.cause : undefined;
  return cause !== undefined && cause !== err ? [...code, ...codesOf(cause, depth + 1)] : code;
}

/** True when connecting failed, so not one byte was sent: even a POST may be retried on another endpoint. */
export function isConnectError(err: unknown): boolean {
  return codesOf(err).some((c) => CONNECT_ERROR_CODES.has(c));
}

/** True when the peer could not be talked to: connecting failed, or the connection was reset or cut. */
export function isUnreachableError(err: unknown): boolean {
  return codesOf(err).some((c) => CONNECT_ERROR_CODES.has(c) || RESET_ERROR_CODES.has(c));
}
