// Requests node:http refuses before the proxy sees them (headers over the limit, malformed HTTP, a header timeout)
// get the same answer as every other rejection: status, drop reason, request id and the OpenAI-style JSON error,
// not Node's bare status line. The rest of an oversized request is read and discarded for a bounded time, so the
// client can read the answer instead of a connection reset.
import { STATUS_CODES } from 'node:http';
import { type Duplex } from 'node:stream';
import { type Logger } from '../core/index.js';
import { ERROR_CONTENT_TYPE, HEADER_DROP_REASON, HEADER_REQUEST_ID, openAiErrorBody } from '../gateway/index.js';

/** How long the rest of a refused request is drained before the connection is cut. */
export const CLIENT_ERROR_DRAIN_MS = 2_000;
/** At most this much of a refused request is drained; beyond it the connection is cut. */
export const CLIENT_ERROR_DRAIN_BYTES = 1024 * 1024;

interface Refusal {
  readonly status: number;
  readonly reason: string;
  readonly message: string;
}

function refusalFor(code: string | undefined, maxHeaderBytes: number): Refusal {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'header-too-large', message: `request headers exceed ${maxHeaderBytes} bytes` };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADER_TIMEOUT':
      return { status: 408, reason: 'request-timeout', message: 'the request was not received in time' };
    default:
      return { status: 400, reason: 'bad-request', message: `malformed HTTP request (${code ?? 'parse error'})` };
  }
}

export interface ClientErrorContext {
  readonly maxHeaderBytes: number;
  readonly newRequestId: () => string;
  readonly logger: Logger;
  /** Told of each refusal answered (a reset or unwritable socket gets no answer and is not told). */
  readonly onRefused?: (status: number, reason: string) => void;
}

/** The 'clientError' handler of the proxy's HTTP server. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, ctx: ClientErrorContext): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const refusal = refusalFor(err.code, ctx.maxHeaderBytes);
  const requestId = ctx.newRequestId();
  ctx.logger.debug({ code: err.code, status: refusal.status, requestId }, 'request refused before parsing completed');
  ctx.onRefused?.(refusal.status, refusal.reason);
  const body = openAiErrorBody(refusal.status, refusal.reason, refusal.message);
  const head = [
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ''}`,
    `content-type: ${ERROR_CONTENT_TYPE}`,
    `content-length: ${Buffer.byteLength(body)}`,
    `${HEADER_DROP_REASON}: ${refusal.reason}`,
    `${HEADER_REQUEST_ID}: ${requestId}`,
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  drainThenDestroy(socket);
}

/** Reads and drops what the client still sends (closing with unread data would reset the connection). */
function drainThenDestroy(socket: Duplex): void {
  let drained = 0;
  const timer = setTimeout(() => socket.destroy(), CLIENT_ERROR_DRAIN_MS);
  timer.unref();
  socket.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > CLIENT_ERROR_DRAIN_BYTES) socket.destroy();
  });
  socket.on('close', () => clearTimeout(timer));
  socket.on('error', () => socket.destroy());
  socket.resume();
}
