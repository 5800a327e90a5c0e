// Builders for the ext_proc ProcessingResponse messages the picker sends (plain objects for the serializer).
import {
  type RejectDecision,
  ERROR_CONTENT_TYPE,
  HEADER_DESTINATION,
  HEADER_DROP_REASON,
  HEADER_REQUEST_ID,
  openAiErrorBody,
} from '../gateway/index.js';
import { type StructMessage, destinationMetadata } from './metadata.js';

export type HeaderAppendAction = 'OVERWRITE_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT';

export interface HeaderValueOption {
  readonly header: { readonly key: string; readonly raw_value: Buffer };
  readonly append_action: HeaderAppendAction;
}

export interface CommonResponse {
  readonly clear_route_cache?: boolean;
  readonly header_mutation?: { readonly set_headers: readonly HeaderValueOption[] };
  /** `streamed_response` in FULL_DUPLEX_STREAMED; `body` (the whole new body) in BUFFERED. */
  readonly body_mutation?:
    | { readonly streamed_response: { readonly body: Buffer; readonly end_of_stream: boolean } }
    | { readonly body: Buffer };
}

/** The ProcessingResponse shapes we send (a subset of the proto). */
export type ProcessingResponse =
  | { readonly request_headers: { readonly response: CommonResponse }; readonly dynamic_metadata?: StructMessage }
  | { readonly response_headers: { readonly response: CommonResponse } }
  | { readonly request_body: { readonly response: CommonResponse }; readonly dynamic_metadata?: StructMessage }
  | { readonly response_body: { readonly response: CommonResponse } }
  | { readonly request_trailers: Record<string, never> }
  | { readonly response_trailers: Record<string, never> }
  | { readonly immediate_response: ImmediateResponse };

interface ImmediateResponse {
  readonly status: { readonly code: number };
  readonly headers: { readonly set_headers: readonly HeaderValueOption[] };
  readonly body: Buffer;
  readonly details: string;
}

export function headerOption(
  key: string,
  value: string,
  action: HeaderAppendAction = 'OVERWRITE_IF_EXISTS_OR_ADD',
): HeaderValueOption {
  // raw_value, as current Envoy expects; latin1 keeps header bytes as they arrived.
  return { header: { key, raw_value: Buffer.from(value, 'latin1') }, append_action: action };
}

export interface RouteHeadersInput {
  /** Primary then fallbacks, already formatted by the handler (IPv6 as `[addr]:port`). */
  readonly endpoints: readonly string[];
  readonly setHeaders: ReadonlyMap<string, string>;
  /** Final body length; undefined when Content-Length stays as it is (header-only requests, BUFFERED bodies kept). */
  readonly bodyLength: number | undefined;
  /** Set when the id was generated here, so the model server sees the same id as our logs. */
  readonly generatedRequestId: string | undefined;
}

/** The one request_headers answer of a routed request: destination header and identical `envoy.lb` metadata. */
export function routeHeadersResponse(input: RouteHeadersInput): ProcessingResponse {
  const { response, destination } = routeMutation(input);
  return { request_headers: { response }, dynamic_metadata: destinationMetadata(destination) };
}

/**
 * The route as the answer to a BUFFERED body: Envoy still holds the request headers then, so the same header
 * mutation and metadata apply. Without `replacement` the answer carries no body, and Envoy forwards the body it kept;
 * with one, it replaces the whole body, and `bodyLength` must be its length (Envoy refuses a mismatched
 * Content-Length).
 */
export function routeBodyResponse(input: RouteHeadersInput & { readonly replacement?: Buffer }): ProcessingResponse {
  const { response, destination } = routeMutation(input);
  const common: CommonResponse =
    input.replacement === undefined ? response : { ...response, body_mutation: { body: input.replacement } };
  return { request_body: { response: common }, dynamic_metadata: destinationMetadata(destination) };
}

function routeMutation(input: RouteHeadersInput): { response: CommonResponse; destination: string } {
  const destination = input.endpoints.join(',');
  const setHeaders: HeaderValueOption[] = [headerOption(HEADER_DESTINATION, destination)];
  if (input.bodyLength !== undefined) setHeaders.push(headerOption('content-length', String(input.bodyLength)));
  if (input.generatedRequestId !== undefined) setHeaders.push(headerOption(HEADER_REQUEST_ID, input.generatedRequestId));
  for (const [name, value] of input.setHeaders) setHeaders.push(headerOption(name.toLowerCase(), value));
  return { response: { clear_route_cache: true, header_mutation: { set_headers: setHeaders } }, destination };
}

/** CONTINUE for request headers whose route waits for a BUFFERED body (Envoy holds the headers until then). */
export const REQUEST_HEADERS_CONTINUE: ProcessingResponse = { request_headers: { response: {} } };

/** CONTINUE for a response chunk in the modes where Envoy keeps the chunk itself (all but FULL_DUPLEX_STREAMED). */
export const RESPONSE_BODY_CONTINUE: ProcessingResponse = { response_body: { response: {} } };

/**
 * The body's chunks as FULL_DUPLEX_STREAMED request_body answers, in order: each chunk as it is, or cut into views
 * (no copies) of at most `chunkBytes`; the last marked end_of_stream unless trailers follow. An empty body still
 * yields one (empty) answer.
 */
export function streamedBodyResponses(
  phase: 'request_body' | 'response_body',
  chunks: readonly Buffer[],
  chunkBytes: number,
  endOfStream: boolean,
): ProcessingResponse[] {
  const out: ProcessingResponse[] = [];
  const parts = chunks.filter((c) => c.length > 0);
  if (parts.length === 0) return [streamedBodyResponse(phase, Buffer.alloc(0), endOfStream)];
  parts.forEach((chunk, i) => {
    for (let offset = 0; offset < chunk.length; offset += chunkBytes) {
      const end = Math.min(chunk.length, offset + chunkBytes);
      out.push(streamedBodyResponse(phase, chunk.subarray(offset, end), endOfStream && i === parts.length - 1 && end === chunk.length));
    }
  });
  return out;
}

export function streamedBodyResponse(
  phase: 'request_body' | 'response_body',
  chunk: Buffer,
  endOfStream: boolean,
): ProcessingResponse {
  const response: CommonResponse = { body_mutation: { streamed_response: { body: chunk, end_of_stream: endOfStream } } };
  return phase === 'request_body' ? { request_body: { response } } : { response_body: { response } };
}

/** CONTINUE for response headers; echoes the request id to the client unless the model server set one. */
export function responseHeadersContinue(requestId: string, extra?: ReadonlyMap<string, string>): ProcessingResponse {
  const set = [headerOption(HEADER_REQUEST_ID, requestId, 'ADD_IF_ABSENT')];
  for (const [name, value] of extra ?? []) set.push(headerOption(name, value));
  return { response_headers: { response: { header_mutation: { set_headers: set } } } };
}

export const REQUEST_TRAILERS_CONTINUE: ProcessingResponse = { request_trailers: {} };
export const RESPONSE_TRAILERS_CONTINUE: ProcessingResponse = { response_trailers: {} };

/** A deliberate rejection: HTTP status, drop reason, Retry-After, and the OpenAI-style JSON error the proxy sends. */
export function rejectResponse(decision: RejectDecision, requestId: string): ProcessingResponse {
  const headers: HeaderValueOption[] = [
    headerOption(HEADER_DROP_REASON, decision.reason),
    headerOption(HEADER_REQUEST_ID, requestId),
    headerOption('content-type', ERROR_CONTENT_TYPE),
  ];
  if (decision.retryAfterSeconds !== undefined) {
    headers.push(headerOption('retry-after', String(Math.max(0, Math.ceil(decision.retryAfterSeconds)))));
  }
  return {
    immediate_response: {
      status: { code: decision.status },
      headers: { set_headers: headers },
      body: Buffer.from(openAiErrorBody(decision.status, decision.reason, decision.message), 'utf8'),
      // Envoy puts details into access logs as one token: no whitespace.
      details: `fairway_${decision.reason.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
    },
  };
}
