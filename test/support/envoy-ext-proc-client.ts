// Drives the ext_proc service as Envoy does: a real gRPC client on loopback, Envoy's protos, FULL_DUPLEX_STREAMED
// bodies (request headers, body chunks, optional trailers; then the response path) or BUFFERED ones (headers, wait
// for their answer, then the whole body in one message), with decoding helpers.
import * as grpc from '@grpc/grpc-js';
import { loadExtProcProtos } from '../../src/extproc/index.js';
import {
  type UnknownRecord,
  arrayField,
  boolField,
  bytesField,
  isRecord,
  recordField,
  stringField,
} from '../../src/extproc/narrow.js';

export type HeaderInput = Readonly<Record<string, string>> | readonly (readonly [string, string])[];

/** filter_metadata as plain JS: namespace -> key -> string or list of strings. */
export type MetadataInput = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

export interface RequestSpec {
  /** Regular headers; `:method`, `:path`, `:authority` are added from the fields below. */
  readonly headers?: HeaderInput;
  /** @default 'POST' */
  readonly method?: string;
  /** @default '/v1/completions' */
  readonly path?: string;
  readonly bodyChunks?: readonly (Buffer | string)[];
  /** A header-only request (e.g. GET): end_of_stream on the headers, no body. */
  readonly endOfStreamOnHeaders?: boolean;
  /** Sent as metadata_context with the headers message. */
  readonly metadata?: MetadataInput;
  /** Request trailers: the last body chunk then has end_of_stream false, as Envoy sends it. */
  readonly trailers?: HeaderInput;
  /** `protocol_config` on the first message, as recent Envoys send it; absent by default (older Envoys). */
  readonly protocolConfig?: { readonly request_body_mode?: string; readonly response_body_mode?: string };
}

export interface ResponseSpec {
  /** @default 200 */
  readonly status?: number;
  readonly headers?: HeaderInput;
  readonly bodyChunks?: readonly (Buffer | string)[];
  readonly trailers?: HeaderInput;
  /** Sent as metadata_context with the response headers (e.g. the served endpoint). */
  readonly metadata?: MetadataInput;
}

export interface ImmediateResponseView {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
  readonly details: string;
}

/** What the picker answered to one request phase. */
export interface RequestExchange {
  readonly stream: EnvoyStream;
  readonly responses: readonly UnknownRecord[];
  readonly immediate?: ImmediateResponseView;
  /** From the request_headers answer. */
  readonly setHeaders: ReadonlyMap<string, string>;
  readonly clearRouteCache: boolean;
  /** `dynamic_metadata["envoy.lb"]["x-gateway-destination-endpoint"]`. */
  readonly metadataDestination?: string;
  /** The streamed request_body answers, in order. */
  readonly bodyChunks: readonly { readonly body: Buffer; readonly endOfStream: boolean }[];
  readonly body: Buffer;
}

/** What the picker answered to a BUFFERED request: the route comes with the body's answer. */
export interface BufferedExchange {
  readonly stream: EnvoyStream;
  readonly responses: readonly UnknownRecord[];
  readonly immediate?: ImmediateResponseView;
  /** The request_headers answer's header mutation (empty when the route waits for the body). */
  readonly headersAnswerSetHeaders: ReadonlyMap<string, string>;
  /** The route's header mutation: from the body's answer, or the headers' answer of a header-only request. */
  readonly setHeaders: ReadonlyMap<string, string>;
  readonly clearRouteCache: boolean;
  readonly metadataDestination?: string;
  /** `body_mutation.body` of the body's answer: the body Envoy forwards instead of its own. */
  readonly replacedBody?: Buffer;
  /** What Envoy forwards upstream: the replacement, or the body it kept. */
  readonly forwardedBody: Buffer;
}

export interface ResponseExchange {
  readonly responses: readonly UnknownRecord[];
  readonly bodyChunks: readonly { readonly body: Buffer; readonly endOfStream: boolean }[];
  readonly setHeaders: ReadonlyMap<string, string>;
}

export interface StreamStatus {
  readonly code: grpc.status;
  readonly details: string;
}

/**
 * How long a read waits for the picker's next answer before failing. Only a bound on a failing test: a request
 * held by flow control gets its first answer when it is routed, which on a loaded machine took over 5 s (the old
 * bound) in the reload-under-load test while 240 requests waited through five reloads.
 */
const DEFAULT_TIMEOUT_MS = 30_000;

/** One Process stream. Responses queue up; `next()` takes them in order. */
export class EnvoyStream {
  readonly status: Promise<StreamStatus>;
  private readonly queue: UnknownRecord[] = [];
  private waiters: ((r: UnknownRecord | undefined) => void)[] = [];
  private ended = false;

  constructor(private readonly call: grpc.ClientDuplexStream<object, unknown>) {
    this.status = new Promise((resolve) => {
      call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details }));
    });
    call.on('data', (m: unknown) => this.push(isRecord(m) ? m : {}));
    call.on('end', () => this.finish());
    // Errors also arrive as 'status'; without a listener an 'error' event would throw.
    call.on('error', () => this.finish());
  }

  send(message: object): void {
    this.call.write(message);
  }

  sendRequestHeaders(headers: HeaderInput, endOfStream: boolean, metadata?: MetadataInput, protocolConfig?: RequestSpec['protocolConfig']): void {
    this.send({
      request_headers: { headers: headerMap(headers), end_of_stream: endOfStream },
      ...metadataContext(metadata),
      ...(protocolConfig === undefined ? {} : { protocol_config: protocolConfig }),
    });
  }

  sendRequestBody(chunk: Buffer | string, endOfStream: boolean, metadata?: MetadataInput): void {
    this.send({ request_body: { body: toBuffer(chunk), end_of_stream: endOfStream }, ...metadataContext(metadata) });
  }

  sendRequestTrailers(trailers: HeaderInput): void {
    this.send({ request_trailers: { trailers: headerMap(trailers) } });
  }

  sendResponseHeaders(status: number, headers: HeaderInput, endOfStream: boolean, metadata?: MetadataInput): void {
    this.send({
      response_headers: { headers: headerMap([[':status', String(status)], ...entries(headers)]), end_of_stream: endOfStream },
      ...metadataContext(metadata),
    });
  }

  sendResponseBody(chunk: Buffer | string, endOfStream: boolean, metadata?: MetadataInput): void {
    this.send({ response_body: { body: toBuffer(chunk), end_of_stream: endOfStream }, ...metadataContext(metadata) });
  }

  sendResponseTrailers(trailers: HeaderInput): void {
    this.send({ response_trailers: { trailers: headerMap(trailers) } });
  }

  /** The next response, or undefined when the server ended the stream. Rejects after `timeoutMs`. */
  next(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<UnknownRecord | undefined> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no ext_proc response within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: UnknownRecord | undefined): void => {
        clearTimeout(timer);
        resolve(r);
      };
      this.waiters.push(waiter);
    });
  }

  /** Like next(), but fails when the stream ended instead. */
  async expectNext(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<UnknownRecord> {
    const r = await this.next(timeoutMs);
    if (r === undefined) throw new Error('ext_proc stream ended while a response was expected');
    return r;
  }

  /** Responses received and not yet taken. */
  pending(): number {
    return this.queue.length;
  }

  /** Half-close, as Envoy does when the HTTP stream is done. */
  end(): void {
    this.call.end();
  }

  /** Reset, as Envoy does when the downstream client goes away. */
  cancel(): void {
    this.call.cancel();
  }

  /** Sends the response path as Envoy does and collects the picker's answers (one per message). */
  async sendResponse(spec: ResponseSpec): Promise<ResponseExchange> {
    const responses: UnknownRecord[] = [];
    const bodyChunks: { body: Buffer; endOfStream: boolean }[] = [];
    const chunks = spec.bodyChunks ?? [];
    const hasTrailers = spec.trailers !== undefined;
    this.sendResponseHeaders(spec.status ?? 200, spec.headers ?? {}, chunks.length === 0 && !hasTrailers, spec.metadata);
    const headersAnswer = await this.expectNext();
    responses.push(headersAnswer);
    for (let i = 0; i < chunks.length; i++) {
      this.sendResponseBody(chunks[i] ?? '', i === chunks.length - 1 && !hasTrailers);
      const r = await this.expectNext();
      responses.push(r);
      const streamed = streamedBodyOf(r, 'response_body');
      if (streamed !== undefined) bodyChunks.push(streamed);
    }
    if (spec.trailers !== undefined) {
      this.sendResponseTrailers(spec.trailers);
      responses.push(await this.expectNext());
    }
    return { responses, bodyChunks, setHeaders: setHeadersOf(headersAnswer, 'response_headers') };
  }

  private push(r: UnknownRecord): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(r);
    else this.queue.push(r);
  }

  private finish(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

export interface ClientOptions {
  /** PEM CA (e.g. the server's self-signed certificate); plaintext when absent. */
  readonly rootCert?: string;
}

export class EnvoyExtProcClient {
  private readonly client: grpc.Client;
  private readonly method = loadExtProcProtos().processMethod;

  /** `address` is `host:port`. */
  constructor(address: string, options: ClientOptions = {}) {
    const credentials =
      options.rootCert === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(Buffer.from(options.rootCert));
    this.client = new grpc.Client(address, credentials);
  }

  openStream(): EnvoyStream {
    const call = this.client.makeBidiStreamRequest<object, unknown>(
      this.method.path,
      this.method.requestSerialize,
      this.method.responseDeserialize,
    );
    return new EnvoyStream(call);
  }

  /**
   * Sends one request as Envoy does and reads the picker's request-phase answers: an immediate response, or
   * the headers answer plus the streamed body (until end_of_stream, or the trailers answer).
   */
  async sendRequest(spec: RequestSpec): Promise<RequestExchange> {
    const stream = this.openStream();
    const chunks = spec.bodyChunks ?? [];
    const headerOnly = spec.endOfStreamOnHeaders === true;
    const hasTrailers = spec.trailers !== undefined;
    stream.sendRequestHeaders(requestHeaders(spec), headerOnly, spec.metadata, spec.protocolConfig);
    if (!headerOnly) {
      chunks.forEach((c, i) => stream.sendRequestBody(c, i === chunks.length - 1 && !hasTrailers));
      if (spec.trailers !== undefined) stream.sendRequestTrailers(spec.trailers);
    }
    return readRequestPhase(stream, { expectBody: !headerOnly, expectTrailers: hasTrailers && !headerOnly });
  }

  /**
   * Sends one request as Envoy does in BUFFERED request body mode: the headers, then (unless they ended the request
   * or were answered with an immediate response) the whole body in one message once their answer is in, with
   * end_of_stream unless trailers follow; then the trailers.
   */
  async sendBufferedRequest(spec: RequestSpec): Promise<BufferedExchange> {
    const stream = this.openStream();
    const headerOnly = spec.endOfStreamOnHeaders === true;
    const hasTrailers = spec.trailers !== undefined;
    stream.sendRequestHeaders(requestHeaders(spec), headerOnly, spec.metadata, spec.protocolConfig);
    const responses: UnknownRecord[] = [];
    const headersAnswer = await stream.expectNext();
    responses.push(headersAnswer);
    const early = immediateOf(headersAnswer);
    const original = Buffer.concat((spec.bodyChunks ?? []).map(toBuffer));
    const headersAnswerSetHeaders = setHeadersOf(headersAnswer, 'request_headers');
    if (early !== undefined) return bufferedExchange(stream, responses, early, headersAnswerSetHeaders, headersAnswer, 'request_headers', original);
    if (stringField(headersAnswer, 'response') !== 'request_headers') {
      throw new Error(`expected a request_headers answer, got ${stringField(headersAnswer, 'response') ?? '?'}`);
    }
    if (headerOnly) return bufferedExchange(stream, responses, undefined, headersAnswerSetHeaders, headersAnswer, 'request_headers', original);
    stream.sendRequestBody(original, !hasTrailers);
    const bodyAnswer = await stream.expectNext();
    responses.push(bodyAnswer);
    const immediate = immediateOf(bodyAnswer);
    if (immediate === undefined && stringField(bodyAnswer, 'response') !== 'request_body') {
      throw new Error(`expected a request_body answer, got ${stringField(bodyAnswer, 'response') ?? '?'}`);
    }
    if (immediate === undefined && spec.trailers !== undefined) {
      stream.sendRequestTrailers(spec.trailers);
      responses.push(await stream.expectNext());
    }
    return bufferedExchange(stream, responses, immediate, headersAnswerSetHeaders, bodyAnswer, 'request_body', original);
  }

  close(): void {
    this.client.close();
  }
}

function requestHeaders(spec: RequestSpec): [string, string][] {
  return [
    [':method', spec.method ?? (spec.endOfStreamOnHeaders === true ? 'GET' : 'POST')],
    [':path', spec.path ?? '/v1/completions'],
    [':authority', 'gateway.local'],
    ...entries(spec.headers ?? {}),
  ];
}

function bufferedExchange(
  stream: EnvoyStream,
  responses: UnknownRecord[],
  immediate: ImmediateResponseView | undefined,
  headersAnswerSetHeaders: ReadonlyMap<string, string>,
  routeAnswer: UnknownRecord,
  phase: 'request_headers' | 'request_body',
  original: Buffer,
): BufferedExchange {
  const common = recordField(recordField(routeAnswer, phase) ?? {}, 'response') ?? {};
  const mutation = recordField(common, 'body_mutation');
  const replaced = mutation !== undefined && 'body' in mutation ? Buffer.from(bytesField(mutation, 'body')) : undefined;
  const destination = metadataDestinationOf(routeAnswer);
  return {
    stream,
    responses,
    ...(immediate === undefined ? {} : { immediate }),
    headersAnswerSetHeaders,
    setHeaders: immediate === undefined ? headerOptions(recordField(common, 'header_mutation')) : new Map(),
    clearRouteCache: boolField(common, 'clear_route_cache'),
    ...(destination === undefined ? {} : { metadataDestination: destination }),
    ...(replaced === undefined ? {} : { replacedBody: replaced }),
    forwardedBody: replaced ?? original,
  };
}

/** Reads the request-phase answers already requested on `stream`. */
export async function readRequestPhase(
  stream: EnvoyStream,
  expect: { readonly expectBody: boolean; readonly expectTrailers: boolean },
): Promise<RequestExchange> {
  const responses: UnknownRecord[] = [];
  const first = await stream.expectNext();
  responses.push(first);
  const immediate = immediateOf(first);
  if (immediate !== undefined) {
    return { stream, responses, immediate, setHeaders: new Map(), clearRouteCache: false, bodyChunks: [], body: Buffer.alloc(0) };
  }
  if (stringField(first, 'response') !== 'request_headers') {
    throw new Error(`expected a request_headers answer, got ${stringField(first, 'response') ?? '?'}`);
  }
  const bodyChunks: { body: Buffer; endOfStream: boolean }[] = [];
  if (expect.expectBody) {
    for (;;) {
      const r = await stream.expectNext();
      responses.push(r);
      const kind = stringField(r, 'response');
      if (kind === 'request_trailers') break;
      const streamed = streamedBodyOf(r, 'request_body');
      if (streamed === undefined) throw new Error(`expected a request_body answer, got ${kind ?? '?'}`);
      bodyChunks.push(streamed);
      if (streamed.endOfStream) break;
      // With trailers the body ends without end_of_stream; the trailers answer follows.
    }
    if (expect.expectTrailers && stringField(responses.at(-1) ?? {}, 'response') !== 'request_trailers') {
      responses.push(await stream.expectNext());
    }
  }
  const common = recordField(recordField(first, 'request_headers') ?? {}, 'response') ?? {};
  const destination = metadataDestinationOf(first);
  return {
    stream,
    responses,
    setHeaders: setHeadersOf(first, 'request_headers'),
    clearRouteCache: boolField(common, 'clear_route_cache'),
    ...(destination === undefined ? {} : { metadataDestination: destination }),
    bodyChunks,
    body: Buffer.concat(bodyChunks.map((c) => c.body)),
  };
}

// --- decoding helpers for ProcessingResponse objects ---

export function setHeadersOf(response: UnknownRecord, phase: 'request_headers' | 'response_headers'): Map<string, string> {
  const common = recordField(recordField(response, phase) ?? {}, 'response') ?? {};
  return headerOptions(recordField(common, 'header_mutation'));
}

export function streamedBodyOf(
  response: UnknownRecord,
  phase: 'request_body' | 'response_body',
): { body: Buffer; endOfStream: boolean } | undefined {
  const common = recordField(recordField(response, phase) ?? {}, 'response');
  const streamed = recordField(recordField(common ?? {}, 'body_mutation') ?? {}, 'streamed_response');
  if (streamed === undefined) return undefined;
  return { body: Buffer.from(bytesField(streamed, 'body')), endOfStream: boolField(streamed, 'end_of_stream') };
}

export function immediateOf(response: UnknownRecord): ImmediateResponseView | undefined {
  const imm = recordField(response, 'immediate_response');
  if (imm === undefined) return undefined;
  const code = recordField(imm, 'status')?.['code'];
  return {
    status: typeof code === 'number' ? code : Number(codeNumber(code)),
    headers: headerOptions(recordField(imm, 'headers')),
    body: bytesField(imm, 'body').toString('utf8'),
    details: stringField(imm, 'details') ?? '',
  };
}

export function metadataDestinationOf(response: UnknownRecord): string | undefined {
  const lb = recordField(recordField(recordField(response, 'dynamic_metadata') ?? {}, 'fields') ?? {}, 'envoy.lb');
  const inner = recordField(recordField(recordField(lb ?? {}, 'structValue') ?? {}, 'fields') ?? {}, 'x-gateway-destination-endpoint');
  return inner === undefined ? undefined : stringField(inner, 'stringValue');
}

function headerOptions(mutation: UnknownRecord | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const opt of arrayField(mutation ?? {}, 'set_headers')) {
    const header = isRecord(opt) ? recordField(opt, 'header') : undefined;
    if (header === undefined) continue;
    const raw = bytesField(header, 'raw_value');
    out.set(stringField(header, 'key') ?? '', raw.length > 0 ? raw.toString('latin1') : (stringField(header, 'value') ?? ''));
  }
  return out;
}

/** envoy.type.v3.StatusCode decodes as its enum name with `enums: String`. */
const STATUS_NAMES: Readonly<Record<string, number>> = {
  BadRequest: 400,
  NotFound: 404,
  PayloadTooLarge: 413,
  RequestHeaderFieldsTooLarge: 431,
  TooManyRequests: 429,
  InternalServerError: 500,
  ServiceUnavailable: 503,
  OK: 200,
};

function codeNumber(code: unknown): number {
  if (typeof code === 'string') return STATUS_NAMES[code] ?? Number.NaN;
  return Number.NaN;
}

function entries(headers: HeaderInput): [string, string][] {
  return Array.isArray(headers)
    ? (headers as readonly (readonly [string, string])[]).map(([k, v]) => [k, v])
    : Object.entries(headers as Readonly<Record<string, string>>);
}

function headerMap(headers: HeaderInput): { headers: { key: string; raw_value: Buffer }[] } {
  // Current Envoy sends raw_value only.
  return { headers: entries(headers).map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })) };
}

function metadataContext(metadata: MetadataInput | undefined): object {
  if (metadata === undefined) return {};
  const filter: Record<string, object> = {};
  for (const [ns, kv] of Object.entries(metadata)) {
    const fields: Record<string, object> = {};
    for (const [key, value] of Object.entries(kv)) {
      fields[key] =
        typeof value === 'string'
          ? { stringValue: value }
          : { listValue: { values: (value).map((v) => ({ stringValue: v })) } };
    }
    filter[ns] = { fields };
  }
  return { metadata_context: { filter_metadata: filter } };
}

function toBuffer(chunk: Buffer | string): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}
