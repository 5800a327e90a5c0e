// Writes the ProcessingResponse messages of a routed request's hot path (the route, streamed chunks, CONTINUEs)
// straight to protobuf bytes, the same bytes protobufjs's fromObject + encode give (property-tested), without
// building protobufjs messages or forking its writer: that was a fifth of the ext_proc handler's time for a 1 KB
// request. Anything else (immediate responses, non-ASCII strings) goes to the protobufjs serializer.
import { type StructMessage, type StructValue } from './metadata.js';
import { type CommonResponse, type HeaderAppendAction, type HeaderValueOption, type ProcessingResponse } from './responses.js';

/**
 * Wire tags (field number << 3 | wire type 2, length-delimited; 0 for varints) of the fields we write, as Envoy's
 * protos number them. protobufjs writes a message's set fields in field-number order, so each writer below does.
 */
const TAG = {
  // ProcessingResponse
  requestHeaders: 0x0a, // 1
  responseHeaders: 0x12, // 2
  requestBody: 0x1a, // 3
  responseBody: 0x22, // 4
  requestTrailers: 0x2a, // 5
  responseTrailers: 0x32, // 6
  dynamicMetadata: 0x42, // 8
  // HeadersResponse / BodyResponse
  response: 0x0a, // 1
  // CommonResponse
  headerMutation: 0x12, // 2
  bodyMutation: 0x1a, // 3
  clearRouteCache: 0x28, // 5, varint
  // HeaderMutation
  setHeaders: 0x0a, // 1
  // HeaderValueOption
  header: 0x0a, // 1
  appendAction: 0x18, // 3, varint
  // HeaderValue
  key: 0x0a, // 1
  rawValue: 0x1a, // 3
  // BodyMutation
  body: 0x0a, // 1
  streamedResponse: 0x1a, // 3
  // StreamedBodyResponse (body: 1, as BodyMutation's)
  endOfStream: 0x10, // 2, varint
  // Struct map entry (key: 1, as HeaderValue's)
  structFields: 0x0a, // 1
  entryValue: 0x12, // 2
  // Value
  stringValue: 0x1a, // 3
  structValue: 0x2a, // 5
  listValue: 0x32, // 6
  // ListValue
  listValues: 0x0a, // 1
} as const;

/** envoy.config.core.v3.HeaderValueOption.HeaderAppendAction */
const APPEND_ACTION: Record<HeaderAppendAction, number> = { OVERWRITE_IF_EXISTS_OR_ADD: 2, ADD_IF_ABSENT: 1 };

type BodyMutation = NonNullable<CommonResponse['body_mutation']>;

/** The response's bytes, or undefined when it is not one of the shapes written here (the caller falls back). */
export function encodeProcessingResponse(message: ProcessingResponse): Buffer | undefined {
  const size = processingResponseSize(message);
  if (size < 0) return undefined;
  const out = new Writer(Buffer.allocUnsafe(size));
  writeProcessingResponse(out, message);
  return out.buf;
}

/** Largest answer written into the reused buffer; a bigger one (a rewritten body in one piece) gets its own. */
const SCRATCH_MAX_BYTES = 1 << 20;

/**
 * A gRPC serializer for ProcessingResponse: the direct writer for the hot shapes, `fallback` (protobufjs) for the
 * rest. The direct writer reuses one buffer for every answer, because grpc-js copies a serialized message into its
 * own length-prefixed frame before it returns (ServerInterceptingCall.serializeMessage, grpc-js 1.14): a streamed
 * back 64 KiB chunk then makes no external allocation of its own, and external memory is what starts V8's major
 * collections under long bodies. The returned bytes are valid until the next call only; the concurrent-streams
 * test in test/integration/extproc/ext-proc-service.test.ts fails if a grpc-js upgrade keeps them longer.
 */
export function processingResponseSerializer(fallback: (value: unknown) => Buffer): (value: ProcessingResponse) => Buffer {
  let scratch = Buffer.allocUnsafeSlow(64 * 1024 + 64);
  return (value) => {
    const size = processingResponseSize(value);
    if (size < 0) return fallback(value);
    if (size > SCRATCH_MAX_BYTES) return encodeProcessingResponse(value) ?? fallback(value);
    if (size > scratch.length) scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_MAX_BYTES, Math.max(size, scratch.length * 2)));
    const out = new Writer(scratch);
    writeProcessingResponse(out, value);
    return scratch.subarray(0, size);
  };
}

// --- sizes (-1: not written here) ---

function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  return 5;
}

/** A length-delimited field of `n` bytes with a one-byte tag; -1 stays -1. */
function field(n: number): number {
  return n < 0 ? -1 : 1 + varintSize(n) + n;
}

/** Bytes of an ASCII string (its length), or -1 for any other (protobufjs's UTF-8 writer is not Node's for every input). */
function asciiSize(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return -1;
  return s.length;
}

function sum(a: number, b: number): number {
  return a < 0 || b < 0 ? -1 : a + b;
}

function processingResponseSize(m: ProcessingResponse): number {
  // One response field, and dynamic_metadata beside a route; protobufjs writes anything else.
  const keys = Object.keys(m).length;
  if (keys === 2 ? !('dynamic_metadata' in m && ('request_headers' in m || 'request_body' in m)) : keys !== 1) return -1;
  if ('request_headers' in m) return sum(field(wrappedSize(m.request_headers)), metadataSize(m.dynamic_metadata));
  if ('request_body' in m) return sum(field(wrappedSize(m.request_body)), metadataSize(m.dynamic_metadata));
  if ('response_headers' in m) return field(wrappedSize(m.response_headers));
  if ('response_body' in m) return field(wrappedSize(m.response_body));
  if ('request_trailers' in m) return emptySize(m.request_trailers);
  if ('response_trailers' in m) return emptySize(m.response_trailers);
  return -1;
}

function emptySize(m: object): number {
  return Object.keys(m).length === 0 ? 2 : -1;
}

/** HeadersResponse / BodyResponse: `response` only. */
function wrappedSize(m: { readonly response: CommonResponse }): number {
  return Object.keys(m).length === 1 ? field(commonSize(m.response)) : -1;
}

function metadataSize(m: StructMessage | undefined): number {
  return m === undefined ? 0 : field(structSize(m));
}

function commonSize(m: CommonResponse): number {
  let size = 0;
  for (const key in m) {
    if (key === 'header_mutation') {
      const mutation = m.header_mutation;
      if (mutation !== undefined) size = sum(size, field(headerMutationSize(mutation)));
    } else if (key === 'body_mutation') {
      const mutation = m.body_mutation;
      if (mutation !== undefined) size = sum(size, field(bodyMutationSize(mutation)));
    } else if (key === 'clear_route_cache') {
      if (m.clear_route_cache !== undefined) size += 2;
    } else {
      return -1;
    }
  }
  return size;
}

function headerMutationSize(m: { readonly set_headers: readonly HeaderValueOption[] }): number {
  if (Object.keys(m).length !== 1) return -1;
  let size = 0;
  for (const option of m.set_headers) size = sum(size, field(headerOptionSize(option)));
  return size;
}

function headerOptionSize(o: HeaderValueOption): number {
  if (APPEND_ACTION[o.append_action] === undefined) return -1;
  return sum(field(sum(field(asciiSize(o.header.key)), field(o.header.raw_value.length))), 2);
}

function bodyMutationSize(m: BodyMutation): number {
  if ('streamed_response' in m) {
    const streamed = m.streamed_response;
    return field(field(streamed.body.length) + 2);
  }
  return field(m.body.length);
}

function structSize(s: StructMessage): number {
  let size = 0;
  for (const key of Object.keys(s.fields)) size = sum(size, field(entrySize(key, s.fields[key] as StructValue)));
  return size;
}

function entrySize(key: string, value: StructValue): number {
  return sum(field(asciiSize(key)), field(valueSize(value)));
}

function valueSize(v: StructValue): number {
  if (Object.keys(v).length !== 1) return -1;
  if ('stringValue' in v) return field(asciiSize(v.stringValue));
  if ('structValue' in v) return field(structSize(v.structValue));
  if ('listValue' in v) {
    let size = 0;
    for (const item of v.listValue.values) size = sum(size, field(valueSize(item)));
    return field(size);
  }
  return -1;
}

// --- writing (only after the sizes said every part is written here) ---

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
  }

  /** Tag and length of a length-delimited field. */
  open(tag: number, length: number): void {
    this.buf[this.pos++] = tag;
    this.varint(length);
  }

  bytes(tag: number, b: Buffer): void {
    this.open(tag, b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  ascii(tag: number, s: string): void {
    this.open(tag, s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
  }

  flag(tag: number, value: number): void {
    this.buf[this.pos++] = tag;
    this.buf[this.pos++] = value;
  }
}

function writeProcessingResponse(w: Writer, m: ProcessingResponse): void {
  if ('request_headers' in m) {
    writeWrapped(w, TAG.requestHeaders, m.request_headers);
    writeMetadata(w, m.dynamic_metadata);
  } else if ('request_body' in m) {
    writeWrapped(w, TAG.requestBody, m.request_body);
    writeMetadata(w, m.dynamic_metadata);
  } else if ('response_headers' in m) {
    writeWrapped(w, TAG.responseHeaders, m.response_headers);
  } else if ('response_body' in m) {
    writeWrapped(w, TAG.responseBody, m.response_body);
  } else if ('request_trailers' in m) {
    w.open(TAG.requestTrailers, 0);
  } else if ('response_trailers' in m) {
    w.open(TAG.responseTrailers, 0);
  }
}

function writeWrapped(w: Writer, tag: number, m: { readonly response: CommonResponse }): void {
  w.open(tag, field(commonSize(m.response)));
  w.open(TAG.response, commonSize(m.response));
  const r = m.response;
  if (r.header_mutation !== undefined) {
    w.open(TAG.headerMutation, headerMutationSize(r.header_mutation));
    for (const option of r.header_mutation.set_headers) {
      w.open(TAG.setHeaders, headerOptionSize(option));
      w.open(TAG.header, field(option.header.key.length) + field(option.header.raw_value.length));
      w.ascii(TAG.key, option.header.key);
      w.bytes(TAG.rawValue, option.header.raw_value);
      w.flag(TAG.appendAction, APPEND_ACTION[option.append_action]);
    }
  }
  const body = r.body_mutation;
  if (body !== undefined) {
    w.open(TAG.bodyMutation, bodyMutationSize(body));
    if ('streamed_response' in body) {
      const streamed = body.streamed_response;
      w.open(TAG.streamedResponse, field(streamed.body.length) + 2);
      w.bytes(TAG.body, streamed.body);
      w.flag(TAG.endOfStream, streamed.end_of_stream ? 1 : 0);
    } else {
      w.bytes(TAG.body, body.body);
    }
  }
  if (r.clear_route_cache !== undefined) w.flag(TAG.clearRouteCache, r.clear_route_cache ? 1 : 0);
}

function writeMetadata(w: Writer, m: StructMessage | undefined): void {
  if (m === undefined) return;
  w.open(TAG.dynamicMetadata, structSize(m));
  writeStruct(w, m);
}

function writeStruct(w: Writer, s: StructMessage): void {
  for (const key of Object.keys(s.fields)) {
    const value = s.fields[key] as StructValue;
    w.open(TAG.structFields, entrySize(key, value));
    w.ascii(TAG.key, key);
    w.open(TAG.entryValue, valueSize(value));
    writeValue(w, value);
  }
}

function writeValue(w: Writer, v: StructValue): void {
  if ('stringValue' in v) {
    w.ascii(TAG.stringValue, v.stringValue);
  } else if ('structValue' in v) {
    w.open(TAG.structValue, structSize(v.structValue));
    writeStruct(w, v.structValue);
  } else {
    let size = 0;
    for (const item of v.listValue.values) size += field(valueSize(item));
    w.open(TAG.listValue, size);
    for (const item of v.listValue.values) {
      w.open(TAG.listValues, valueSize(item));
      writeValue(w, item);
    }
  }
}
