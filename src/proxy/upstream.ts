// Sends a routed request to its endpoints in order, moving to the next only when the connection itself failed
// (nothing was sent, so even a POST is safe to retry elsewhere).
import { type Dispatcher } from 'undici';

const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export interface UpstreamRequest {
  readonly endpoints: readonly string[];
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly signal: AbortSignal;
}

export type UpstreamResult =
  | { readonly kind: 'response'; readonly endpoint: string; readonly response: Dispatcher.ResponseData }
  | { readonly kind: 'unreachable'; readonly error: unknown }
  | { readonly kind: 'failed'; readonly endpoint: string; readonly error: unknown };

export function isConnectError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  if (typeof code === 'string' && CONNECT_ERROR_CODES.has(code)) return true;
  const cause = typeof err === 'object' && err !== null && 'cause' in err ? err.cause : undefined;
  return cause !== undefined && cause !== err && isConnectError(cause);
}

export async function sendUpstream(dispatcher: Dispatcher, req: UpstreamRequest): Promise<UpstreamResult> {
  let lastError: unknown;
  for (const endpoint of req.endpoints) {
    try {
      const response = await dispatcher.request({
        origin: `http://${endpoint}`,
        path: req.path,
        method: req.method,
        headers: req.headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? null : req.body,
        signal: req.signal,
      });
      return { kind: 'response', endpoint, response };
    } catch (err) {
      if (req.signal.aborted || !isConnectError(err)) return { kind: 'failed', endpoint, error: err };
      lastError = err;
    }
  }
  return { kind: 'unreachable', error: lastError };
}
