// One ext_proc stream (one HTTP request): reads the request body (streamed in FULL_DUPLEX_STREAMED, one message in
// BUFFERED), asks the handler, answers with a route or an immediate response, then passes the response through to
// the observer.
import { randomUUID } from 'node:crypto';
import { type Clock, type Logger } from '../core/index.js';
import {
  type Decision,
  type InferenceRequest,
  type RefusalObserver,
  type RejectDecision,
  type RequestHandler,
  reportRefusal,
  type ResponseEnd,
  type ResponseObserver,
  type RouteDecision,
  type StartedResponseEviction,
  type RequestBody,
  BodyReader,
  DEFAULT_STARTED_RESPONSE_EVICTION,
  HEADER_REQUEST_ID,
  bodyChunks,
  bodyToBuffer,
} from '../gateway/index.js';
import { readServedEndpoint, readSubsetHint } from './metadata.js';
import { type BodyModes, type BodySendMode, DEFAULT_BODY_MODES, isRoutableRequestMode } from './processing-mode.js';
import { type FilterMetadata, type HeaderList, type ProcessingMessage, parseProcessingRequest } from './processing-request.js';
import {
  type ProcessingResponse,
  REQUEST_HEADERS_CONTINUE,
  REQUEST_TRAILERS_CONTINUE,
  RESPONSE_BODY_CONTINUE,
  RESPONSE_TRAILERS_CONTINUE,
  rejectResponse,
  responseHeadersContinue,
  routeBodyResponse,
  routeHeadersResponse,
  streamedBodyResponse,
  streamedBodyResponses,
} from './responses.js';

/** gRPC status names used when a stream must fail (protocol violations and the truly unexpected). */
export type StreamFailure = 'INVALID_ARGUMENT' | 'FAILED_PRECONDITION' | 'INTERNAL';

/** What a stream needs from its transport; the gRPC service adapts a grpc-js call to it, tests use a fake. */
export interface StreamTransport {
  send(response: ProcessingResponse): void;
  /** Closes the stream with status OK. */
  end(): void;
  /** Closes the stream with a gRPC error status. */
  fail(code: StreamFailure, details: string): void;
}

export interface ExtProcStreamOptions {
  readonly handler: RequestHandler;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly bodyChunkBytes: number;
  readonly maxRequestBodyBytes: number;
  /** Request headers larger than this (names, values and 4 bytes of framing each) are answered 431. */
  readonly maxRequestHeaderBytes: number;
  readonly newRequestId?: () => string;
  /** What an in-flight eviction does once response headers have arrived (see gateway/eviction-relay.ts). */
  readonly startedResponseEviction?: StartedResponseEviction;
  /** Envoy's body modes when its first message carries no `protocol_config`. @default FULL_DUPLEX_STREAMED both ways */
  readonly bodyModes?: BodyModes;
  /**
   * Told when a request arrives in a body mode no route can be given in; the service logs each mode once, since a
   * misconfigured Envoy sends every request that way. @default a warning per request
   */
  readonly onUnsupportedMode?: (mode: BodySendMode, requestId: string) => void;
  /** Told of each request this stream refuses itself, before the handler sees it (431, 413, 500 mode, 400). */
  readonly observer?: RefusalObserver;
}

type Phase = 'headers' | 'body' | 'deciding' | 'routed' | 'closed';

const BODY_TOO_LARGE = { status: 413, reason: 'body-too-large' } as const;
const HEADER_TOO_LARGE = { status: 431, reason: 'header-too-large' } as const;
const UNSUPPORTED_MODE = { status: 500, reason: 'unsupported-processing-mode' } as const;

export class ExtProcStream {
  private phase: Phase = 'headers';
  private readonly abort = new AbortController();
  private method = 'GET';
  private path = '/';
  private requestId = '';
  private generatedRequestId: string | undefined;
  private headers = new Map<string, string>();
  private subsetHint: string[] | undefined;
  /**
   * Keeps the chunks as they arrive and scans each at once, so the body is read once and never concatenated. Made at
   * the first chunk: a header-only request needs none.
   */
  private body: BodyReader | undefined;
  private headerOnly = false;
  /** Envoy's body modes for this stream: its `protocol_config` when sent, else the configured ones. */
  private modes: BodyModes;
  /** The request body comes in one BUFFERED message and the route goes back in that message's answer. */
  private buffered = false;
  /** The body handed to the handler: a decision returning this same object left it unchanged. */
  private requestBody: RequestBody | undefined;
  private requestTrailers = false;
  private requestTrailersAnswered = false;
  private observer: ResponseObserver | undefined;
  private responseDone = false;
  /** Response headers have arrived from Envoy (and gone on to the client once answered). */
  private responseStarted = false;
  private servedReported = false;
  private decideStartedAt = 0;

  constructor(
    private readonly transport: StreamTransport,
    private readonly options: ExtProcStreamOptions,
  ) {
    this.modes = options.bodyModes ?? DEFAULT_BODY_MODES;
  }

  /** True once the stream has ended (in exactly one way). */
  get closed(): boolean {
    return this.phase === 'closed';
  }

  onMessage(raw: unknown): void {
    if (this.phase === 'closed') return;
    const msg = parseProcessingRequest(raw);
    if (typeof msg === 'string') {
      this.violation('INVALID_ARGUMENT', msg);
      return;
    }
    try {
      this.dispatch(msg);
    } catch (err) {
      this.options.logger.error({ err, requestId: this.requestId }, 'ext_proc stream failed');
      this.fail('INTERNAL', 'internal error while processing the stream');
    }
  }

  /** Envoy closed its side: nothing more will come, so an unfinished request or response is aborted. */
  onHalfClose(): void {
    if (this.phase === 'closed') return;
    // With response_body_mode NONE the body never comes through here: the end of the stream is its end.
    if (this.responseStarted && this.modes.response === 'NONE' && !this.responseDone) this.complete();
    this.finishAborted();
    this.phase = 'closed';
    this.transport.end();
  }

  /** The stream was cancelled or broke (client gone, Envoy reset, server shutdown). */
  onCancel(): void {
    if (this.phase === 'closed') return;
    this.finishAborted();
    this.phase = 'closed';
  }

  private dispatch(msg: ProcessingMessage): void {
    if (msg.protocol !== undefined) this.modes = msg.protocol;
    switch (msg.kind) {
      case 'request_headers':
        if (this.phase !== 'headers') return this.violation('FAILED_PRECONDITION', 'request_headers received twice');
        this.readRequestHeaders(msg.headers, msg.metadata);
        if (headerBytes(msg.headers) > this.options.maxRequestHeaderBytes) {
          this.refuse({
            kind: 'reject',
            ...HEADER_TOO_LARGE,
            message: `request headers exceed ${this.options.maxRequestHeaderBytes} bytes`,
          });
          return;
        }
        if (msg.endOfStream) {
          // No body in any mode: the headers answer carries the route.
          this.headerOnly = true;
          this.decide();
        } else {
          this.expectBody();
        }
        return;
      case 'request_body':
        if (this.phase !== 'body') return this.violation('FAILED_PRECONDITION', `request_body in phase ${this.phase}`);
        this.readMetadata(msg.metadata);
        this.addBodyChunk(msg.body);
        // BUFFERED sends the whole body in one message; without end_of_stream only the trailers are still to come.
        if (this.phase === 'body' && (msg.endOfStream || this.buffered)) this.decide();
        return;
      case 'request_trailers':
        return this.onRequestTrailers(msg.metadata);
      case 'response_headers':
        if (!this.expectingResponse()) return this.violation('FAILED_PRECONDITION', `response_headers in phase ${this.phase}`);
        this.reportServed(msg.metadata);
        this.responseStarted = true;
        this.observe((o) => o.onHeaders(statusOf(msg.headers), headerMap(msg.headers)));
        // No body will come through here: the headers are the first sign of the server's answer.
        if (this.modes.response === 'NONE') this.observe((o) => o.onResponseStarted?.());
        // What the pipeline adds to the client's response (the session token).
        this.transport.send(responseHeadersContinue(this.requestId, this.observe((o) => o.responseHeaders?.())));
        if (msg.endOfStream) this.complete();
        return;
      case 'response_body':
        if (!this.expectingResponse()) return this.violation('FAILED_PRECONDITION', `response_body in phase ${this.phase}`);
        this.reportServed(msg.metadata);
        if (msg.body.length > 0) this.observe((o) => o.onBody(msg.body));
        // FULL_DUPLEX_STREAMED: every chunk must be sent back, or Envoy forwards nothing. The other modes keep the
        // chunk in Envoy until this answer, which then carries no bytes.
        this.transport.send(
          this.modes.response === 'FULL_DUPLEX_STREAMED' ? streamedBodyResponse('response_body', msg.body, msg.endOfStream) : RESPONSE_BODY_CONTINUE,
        );
        if (msg.endOfStream) this.complete();
        return;
      case 'response_trailers':
        if (!this.expectingResponse()) return this.violation('FAILED_PRECONDITION', `response_trailers in phase ${this.phase}`);
        this.reportServed(msg.metadata);
        this.transport.send(RESPONSE_TRAILERS_CONTINUE);
        this.complete();
        return;
    }
  }

  /** A body follows the headers: how it comes depends on Envoy's request body mode. */
  private expectBody(): void {
    const mode = this.modes.request;
    if (!isRoutableRequestMode(mode)) {
      // The request would leave Envoy before Fairway saw its body: refuse rather than route it blind.
      if (this.options.onUnsupportedMode !== undefined) this.options.onUnsupportedMode(mode, this.requestId);
      else this.options.logger.warn({ requestId: this.requestId, mode }, 'ext_proc request body mode cannot be routed in');
      this.refuse({
        kind: 'reject',
        ...UNSUPPORTED_MODE,
        message: `Envoy's request_body_mode ${mode} cannot carry a routing decision; use FULL_DUPLEX_STREAMED or BUFFERED`,
      });
      return;
    }
    this.phase = 'body';
    if (mode === 'BUFFERED') {
      // Envoy sends the buffered body only after this answer, and keeps the headers until the body's answer.
      this.buffered = true;
      this.transport.send(REQUEST_HEADERS_CONTINUE);
    }
  }

  private readRequestHeaders(headers: HeaderList, metadata: FilterMetadata | undefined): void {
    this.headers = headerMap(headers);
    for (const [name, value] of headers) {
      if (name === ':method') this.method = value;
      else if (name === ':path') this.path = value;
    }
    const given = this.headers.get(HEADER_REQUEST_ID);
    if (given !== undefined && given !== '') {
      this.requestId = given;
    } else {
      this.requestId = (this.options.newRequestId ?? randomUUID)();
      this.generatedRequestId = this.requestId;
      this.headers.set(HEADER_REQUEST_ID, this.requestId);
    }
    this.readMetadata(metadata);
  }

  private readMetadata(metadata: FilterMetadata | undefined): void {
    const hint = readSubsetHint(metadata);
    if (hint !== undefined) this.subsetHint = hint;
  }

  private addBodyChunk(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if ((this.body?.length ?? 0) + chunk.length > this.options.maxRequestBodyBytes) {
      this.refuse({
        kind: 'reject',
        ...BODY_TOO_LARGE,
        message: `request body exceeds ${this.options.maxRequestBodyBytes} bytes`,
      });
      return;
    }
    (this.body ??= new BodyReader()).write(chunk);
  }

  private onRequestTrailers(metadata: FilterMetadata | undefined): void {
    if (this.phase === 'headers' || this.requestTrailers) {
      return this.violation('FAILED_PRECONDITION', `request_trailers in phase ${this.phase}`);
    }
    this.requestTrailers = true;
    if (this.phase === 'body' && this.buffered) {
      // Trailers without a body message: only a trailers answer is left, and it cannot carry the route.
      this.refuse({ kind: 'reject', status: 400, reason: 'bad-request', message: 'a request with trailers but no body cannot be routed in BUFFERED mode' });
    } else if (this.phase === 'body') {
      // Trailers end the request body: it is complete now.
      this.readMetadata(metadata);
      this.decide();
    } else if (this.phase === 'routed') {
      this.answerRequestTrailers();
    }
    // 'deciding': answered after the body, in order.
  }

  private decide(): void {
    this.phase = 'deciding';
    this.decideStartedAt = this.options.clock.now();
    // No chunk came: an empty body, which the pipeline scans only if it needs to (a POST's is refused as empty).
    const body: RequestBody = this.body?.finish() ?? { chunks: [], length: 0 };
    this.body = undefined;
    this.requestBody = body;
    const request: InferenceRequest = {
      requestId: this.requestId,
      method: this.method,
      path: this.path,
      headers: this.headers,
      body,
      ...(this.subsetHint === undefined ? {} : { subsetHint: this.subsetHint }),
      signal: this.abort.signal,
    };
    let pending: Promise<Decision>;
    try {
      pending = this.options.handler.handle(request);
    } catch (err) {
      pending = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    pending
      .then(
        (decision) => this.onDecision(decision),
        (err: unknown) => this.onHandlerError(err),
      )
      // Answering must never turn into an unhandled rejection (it would end the process): fail the stream.
      .catch((err: unknown) => {
        this.options.logger.error({ err, requestId: this.requestId }, 'answering the request failed');
        this.fail('INTERNAL', 'answering the request failed');
      });
  }

  private onDecision(decision: Decision): void {
    if (this.phase !== 'deciding') {
      // The stream ended while the handler worked; a route must still release what it holds.
      if (decision.kind === 'route') safeEnd(decision.response, 'aborted', this.options.logger);
      return;
    }
    this.options.logger.debug(
      { requestId: this.requestId, kind: decision.kind, ms: this.options.clock.now() - this.decideStartedAt },
      'ext_proc decision',
    );
    if (decision.kind === 'reject') this.rejectNow(decision);
    else this.route(decision);
  }

  private onHandlerError(err: unknown): void {
    if (this.phase !== 'deciding') return;
    this.options.logger.error({ err, requestId: this.requestId }, 'request handler threw');
    this.fail('INTERNAL', 'request handler failed');
  }

  private route(decision: RouteDecision): void {
    if (decision.endpoints.length === 0) {
      safeEnd(decision.response, 'aborted', this.options.logger);
      this.fail('INTERNAL', 'request handler routed to no endpoint');
      return;
    }
    this.observer = decision.response;
    this.phase = 'routed';
    decision.eviction?.listen((rejection) => this.evictInFlight(rejection));
    if (this.buffered) {
      // Envoy forwards the body it holds unless the answer replaces it (a model rewrite): then one copy goes back.
      const replacement = decision.body === this.requestBody ? undefined : bodyToBuffer(decision.body);
      this.transport.send(
        routeBodyResponse({
          endpoints: decision.endpoints,
          setHeaders: decision.setHeaders,
          bodyLength: replacement?.length,
          generatedRequestId: this.generatedRequestId,
          ...(replacement === undefined ? {} : { replacement }),
        }),
      );
      if (this.requestTrailers) this.answerRequestTrailers();
      return;
    }
    this.transport.send(
      routeHeadersResponse({
        endpoints: decision.endpoints,
        setHeaders: decision.setHeaders,
        bodyLength: this.headerOnly ? undefined : decision.body.length,
        generatedRequestId: this.generatedRequestId,
      }),
    );
    if (this.headerOnly) return;
    // The received chunks go back as they are (views, no copy); with request trailers the body's end is
    // signalled by the trailers, not by the last chunk.
    for (const r of streamedBodyResponses('request_body', bodyChunks(decision.body), this.options.bodyChunkBytes, !this.requestTrailers)) {
      this.transport.send(r);
    }
    if (this.requestTrailers) this.answerRequestTrailers();
  }

  /**
   * Flow control takes the routed request back. Before response headers, the immediate response reaches the
   * client as a clean 429 and Envoy resets the upstream request (the model server frees the request's KV cache).
   * After them, Envoy can only reset the client's stream (its local reply cannot follow headers already sent), so
   * that happens only under the `end` policy. The bookkeeping is done here; the message goes out a microtask later.
   */
  private evictInFlight(rejection: RejectDecision): boolean {
    if (this.phase !== 'routed' || this.responseDone) return false;
    if (this.responseStarted && (this.options.startedResponseEviction ?? DEFAULT_STARTED_RESPONSE_EVICTION) === 'spare') return false;
    this.responseDone = true;
    if (this.observer !== undefined) safeEnd(this.observer, 'evicted', this.options.logger);
    queueMicrotask(() => {
      if (this.phase === 'closed') return;
      this.transport.send(rejectResponse(rejection, this.requestId));
      this.phase = 'closed';
      this.transport.end();
    });
    return true;
  }

  private answerRequestTrailers(): void {
    if (this.requestTrailersAnswered) return;
    this.requestTrailersAnswered = true;
    this.transport.send(REQUEST_TRAILERS_CONTINUE);
  }

  /** A refusal of the stream's own (the handler never saw the request): reported, then answered. */
  private refuse(decision: RejectDecision): void {
    reportRefusal(this.options.observer, { reason: decision.reason, status: decision.status }, this.options.logger, this.requestId);
    this.rejectNow(decision);
  }

  private rejectNow(decision: Decision & { kind: 'reject' }): void {
    this.transport.send(rejectResponse(decision, this.requestId));
    this.phase = 'closed';
    this.transport.end();
  }

  private expectingResponse(): boolean {
    return this.phase === 'routed' && !this.responseDone;
  }

  private reportServed(metadata: FilterMetadata | undefined): void {
    if (this.servedReported) return;
    const served = readServedEndpoint(metadata);
    if (served === undefined) return;
    this.servedReported = true;
    this.observe((o) => o.onServedEndpoint?.(served));
  }

  private complete(): void {
    this.responseDone = true;
    const observer = this.observer;
    if (observer !== undefined) safeEnd(observer, 'complete', this.options.logger);
  }

  /** Ends an unfinished request: aborts its signal and tells a routed request's observer, each at most once. */
  private finishAborted(): void {
    if (this.responseDone) return;
    this.responseDone = true;
    this.abort.abort();
    if (this.observer !== undefined) safeEnd(this.observer, 'aborted', this.options.logger);
  }

  private violation(code: StreamFailure, details: string): void {
    this.options.logger.warn({ requestId: this.requestId, details }, 'ext_proc protocol violation');
    this.fail(code, details);
  }

  private fail(code: StreamFailure, details: string): void {
    if (this.phase === 'closed') return;
    this.finishAborted();
    this.phase = 'closed';
    this.transport.fail(code, details);
  }

  /** Observer code is someone else's: its exceptions are logged, never allowed to break the stream. */
  private observe<T>(fn: (observer: ResponseObserver) => T): T | undefined {
    if (this.observer === undefined) return undefined;
    try {
      return fn(this.observer);
    } catch (err) {
      this.options.logger.error({ err, requestId: this.requestId }, 'response observer threw');
      return undefined;
    }
  }
}

function safeEnd(observer: ResponseObserver, how: ResponseEnd, logger: Logger): void {
  try {
    observer.onEnd(how);
  } catch (err) {
    logger.error({ err }, 'response observer onEnd threw');
  }
}

/**
 * Lower-cased names, repeated headers joined with ", ". Pseudo-headers (`:path`, `:status`...) are left out, so
 * both front ends hand the pipeline the same kind of map (node:http has none); they travel as fields instead.
 */
function headerMap(headers: HeaderList): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of headers) {
    if (name.startsWith(':')) continue;
    const prev = map.get(name);
    map.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return map;
}

/** Size as an HTTP/1.1 header block would count it (`name: value\r\n`), the way node:http and Envoy limit it. */
function headerBytes(headers: HeaderList): number {
  let total = 0;
  for (const [name, value] of headers) total += name.length + value.length + 4;
  return total;
}

function statusOf(headers: HeaderList): number {
  for (const [name, value] of headers) {
    if (name === ':status') {
      const n = Number.parseInt(value, 10);
      return Number.isFinite(n) ? n : 0;
    }
  }
  return 0;
}
