// Sends a routed request to its candidate endpoints in order, moving to the next only when the connection itself
// failed (nothing was sent, so even a POST is safe to retry elsewhere). Every failed attempt is reported.
import { type Readable } from 'node:stream';
import { type Dispatcher } from 'undici';
import { isConnectError } from '../core/index.js';

export interface UpstreamRequest {
  /** Candidates, best first; one attempt each, so their number bounds the attempts. */
  readonly endpoints: readonly string[];
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** The body's chunks, sent in order as they are (one write each; never concatenated). */
  readonly body: readonly Buffer[];
  readonly signal: AbortSignal;
  /** Connecting to `endpoint` failed; `retrying`: another candidate follows. */
  readonly onConnectFailed?: (endpoint: string, retrying: boolean, error: unknown) => void;
}

export type UpstreamResult =
  | { readonly kind: 'response'; readonly endpoint: string; readonly response: Dispatcher.ResponseData }
  | { readonly kind: 'unreachable'; readonly error: unknown }
  | { readonly kind: 'failed'; readonly endpoint: string; readonly error: unknown };

export { isConnectError };

/**
 * One chunk goes as a Buffer (one write). Several go as the array itself: undici writes any iterable body chunk by
 * chunk (client-h1 `writeIterable`, a fresh iteration per attempt, so a retry resends it whole), though its
 * option types name only Buffer, string, stream and FormData; hence the cast.
 */
function bodyOf(chunks: readonly Buffer[]): Buffer | Readable {
  if (chunks.length === 0) return Buffer.alloc(0);
  return chunks.length === 1 ? (chunks[0] as Buffer) : (chunks as unknown as Readable);
}

export async function sendUpstream(dispatcher: Dispatcher, req: UpstreamRequest): Promise<UpstreamResult> {
  let lastError: unknown;
  for (let i = 0; i < req.endpoints.length; i++) {
    const endpoint = req.endpoints[i] as string;
    try {
      const response = await dispatcher.request({
        origin: `http://${endpoint}`,
        path: req.path,
        method: req.method,
        headers: req.headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? null : bodyOf(req.body),
        signal: req.signal,
      });
      return { kind: 'response', endpoint, response };
    } catch (err) {
      if (req.signal.aborted || !isConnectError(err)) return { kind: 'failed', endpoint, error: err };
      lastError = err;
      req.onConnectFailed?.(endpoint, i + 1 < req.endpoints.length, err);
    }
  }
  return { kind: 'unreachable', error: lastError };
}
