// The Envoy ext_proc gRPC service: one ExtProcStream per Process call, over the shared RequestHandler.
import * as grpc from '@grpc/grpc-js';
import { type Clock, type Logger, ClosedError, FairwayError, noopLogger, requireIntegerInRange, systemClock } from '../core/index.js';
import { type RefusalObserver, type RequestHandler, type StartedResponseEviction } from '../gateway/index.js';
import { type StreamFailure, type StreamTransport, ExtProcStream } from './ext-proc-stream.js';
import { type Http2Windows, HTTP2_DEFAULT_WINDOW_BYTES, HTTP2_MAX_WINDOW_BYTES, applyHttp2Windows, windowsForStream } from './http2-windows.js';
import { type BodyModes, type BodySendMode } from './processing-mode.js';
import { loadExtProcProtos } from './protos.js';
import { processingResponseSerializer } from './response-encoder.js';
import { type ProcessingResponse } from './responses.js';
import { type CertificateAndKey } from './self-signed-cert.js';
import {
  type ListenOptions,
  DEFAULT_LISTEN_HOST,
  bindAddress,
  bindServer,
  serverCredentials,
  shutdownServer,
} from './server-credentials.js';

/** The Go picker's chunk size for streamed bodies (below Envoy's 64 KiB default buffer). */
export const DEFAULT_BODY_CHUNK_BYTES = 62_000;
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024;
/**
 * Streamed bodies come in chunks, so their messages stay small; a BUFFERED body is one message, so the limit in force
 * is at least the body limit plus framing (a too-large body is then answered 413, not cut by gRPC).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MESSAGE_FRAMING_BYTES = 64 * 1024;
export const DEFAULT_CLOSE_GRACE_MS = 5_000;
/** As the proxy's (Envoy's own default limit is 60 KiB, so Envoy normally refuses first). */
export const DEFAULT_MAX_REQUEST_HEADER_BYTES = 64 * 1024;
/**
 * A stream's window covers a 225 KB body in one flight and a 1 MB one with one WINDOW_UPDATE, so a long prompt no
 * longer waits on a round trip through both event loops per 32 KiB (see http2-windows.ts).
 */
export const DEFAULT_HTTP2_WINDOW_BYTES = 1024 * 1024;

export interface ExtProcServiceOptions {
  readonly handler: RequestHandler;
  /** @default noopLogger */
  readonly logger?: Logger;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Size of each streamed request-body chunk sent back to Envoy. @default 62000 */
  readonly bodyChunkBytes?: number;
  /** Larger request bodies are answered 413 (`body-too-large`) without calling the handler. @default 64 MiB */
  readonly maxRequestBodyBytes?: number;
  /** Larger request headers are answered 431 (`header-too-large`) without calling the handler. @default 64 KiB */
  readonly maxRequestHeaderBytes?: number;
  /** gRPC message size limit, both directions; raised to fit a BUFFERED body of `maxRequestBodyBytes`. @default 16 MiB */
  readonly maxMessageBytes?: number;
  /** Request ids for requests without `x-request-id`. @default crypto.randomUUID */
  readonly newRequestId?: () => string;
  /** What an in-flight eviction does once response headers have arrived (see gateway/eviction-relay.ts). @default 'end' */
  readonly startedResponseEviction?: StartedResponseEviction;
  /**
   * Envoy's request and response body modes, for Envoys that do not announce them (`protocol_config` in a stream's
   * first message wins). @default FULL_DUPLEX_STREAMED both ways
   */
  readonly bodyModes?: BodyModes;
  /** Told of each request the service refuses itself (413, 431, 500 `unsupported-processing-mode`, ...). */
  readonly observer?: RefusalObserver;
  /**
   * HTTP/2 flow-control window of each stream, in bytes (at least 65,535, HTTP/2's default): what Envoy may send on a
   * stream before Fairway has read it. The connection's window is `HTTP2_CONNECTION_WINDOW_STREAMS` times this.
   * @default 1 MiB
   */
  readonly http2WindowBytes?: number;
}

export interface StartedServer {
  readonly port: number;
  /** The certificate in use when TLS is on (the generated one for `'self-signed'`). */
  readonly certificate?: CertificateAndKey;
}

const STATUS: Record<StreamFailure, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  INTERNAL: grpc.status.INTERNAL,
};

export class ExtProcService {
  private readonly handler: RequestHandler;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly bodyChunkBytes: number;
  private readonly maxRequestBodyBytes: number;
  private readonly maxMessageBytes: number;
  private readonly maxRequestHeaderBytes: number;
  private readonly newRequestId: (() => string) | undefined;
  private readonly startedResponseEviction: StartedResponseEviction | undefined;
  private readonly bodyModes: BodyModes | undefined;
  private readonly observer: RefusalObserver | undefined;
  private readonly http2Windows: Http2Windows;
  /** Body modes already reported: one warning per mode, then debug lines (a misconfigured Envoy sends them all). */
  private readonly unsupportedModesSeen = new Set<BodySendMode>();
  private readonly streams = new Set<ExtProcStream>();
  private server: grpc.Server | undefined;
  private starting: Promise<StartedServer> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ExtProcServiceOptions) {
    this.handler = options.handler;
    this.logger = options.logger ?? noopLogger;
    this.clock = options.clock ?? systemClock;
    this.bodyChunkBytes = requireIntegerInRange('bodyChunkBytes', options.bodyChunkBytes ?? DEFAULT_BODY_CHUNK_BYTES, 1, 4 * 1024 * 1024);
    this.maxRequestBodyBytes = requireIntegerInRange(
      'maxRequestBodyBytes',
      options.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES,
      0,
      Number.MAX_SAFE_INTEGER,
    );
    this.maxRequestHeaderBytes = requireIntegerInRange(
      'maxRequestHeaderBytes',
      options.maxRequestHeaderBytes ?? DEFAULT_MAX_REQUEST_HEADER_BYTES,
      1024,
      Number.MAX_SAFE_INTEGER,
    );
    const maxMessageBytes = requireIntegerInRange('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, 1024, 2 ** 31 - 1);
    this.maxMessageBytes = Math.min(2 ** 31 - 1, Math.max(maxMessageBytes, this.maxRequestBodyBytes + MESSAGE_FRAMING_BYTES));
    this.bodyModes = options.bodyModes;
    this.observer = options.observer;
    this.newRequestId = options.newRequestId;
    this.startedResponseEviction = options.startedResponseEviction;
    this.http2Windows = windowsForStream(
      requireIntegerInRange('http2WindowBytes', options.http2WindowBytes ?? DEFAULT_HTTP2_WINDOW_BYTES, HTTP2_DEFAULT_WINDOW_BYTES, HTTP2_MAX_WINDOW_BYTES),
    );
  }

  /** Streams currently open. */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** Opens the listening socket. Idempotent: a second call returns the first result. */
  start(listen: ListenOptions): Promise<StartedServer> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('ExtProcService'));
    this.starting ??= this.doStart(listen);
    return this.starting;
  }

  /** Stops accepting, lets open streams finish within `graceMs`, then cancels the rest. Idempotent. */
  close(graceMs: number = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    this.closing ??= (async () => {
      await this.starting?.catch(() => undefined);
      if (this.server !== undefined) await shutdownServer(this.server, graceMs);
      for (const stream of this.streams) stream.onCancel();
      this.streams.clear();
    })();
    return this.closing;
  }

  private async doStart(listen: ListenOptions): Promise<StartedServer> {
    const { processMethod } = loadExtProcProtos();
    const server = new grpc.Server({
      'grpc.max_receive_message_length': this.maxMessageBytes,
      'grpc.max_send_message_length': this.maxMessageBytes,
    });
    const method = processMethod as grpc.MethodDefinition<unknown, unknown>;
    // Our answers go through the direct writer (same bytes as protobufjs, a fraction of its time per message).
    const definition: grpc.ServiceDefinition = {
      Process: { ...method, responseSerialize: processingResponseSerializer(method.responseSerialize) as (value: unknown) => Buffer },
    };
    server.addService(definition, {
      Process: (call: grpc.ServerDuplexStream<unknown, unknown>) => this.serve(call),
    });
    const { credentials, certificate } = serverCredentials(listen.tls);
    const address = bindAddress(listen.host ?? DEFAULT_LISTEN_HOST, listen.port);
    let port: number;
    try {
      port = await bindServer(server, address, credentials);
    } catch (err) {
      server.forceShutdown();
      throw new FairwayError('ERR_LISTEN', `ext_proc cannot listen on ${address}`, { cause: err });
    }
    this.server = server;
    if (!applyHttp2Windows(server, this.http2Windows) && this.http2Windows.streamBytes !== HTTP2_DEFAULT_WINDOW_BYTES) {
      this.logger.warn(
        { http2WindowBytes: this.http2Windows.streamBytes },
        'ext_proc cannot set HTTP/2 windows with this grpc-js version (its internals changed): 64 KiB windows, so long bodies wait on more round trips',
      );
    }
    this.logger.info({ address, port, tls: listen.tls !== undefined, http2WindowBytes: this.http2Windows.streamBytes }, 'ext_proc listening');
    return certificate === undefined ? { port } : { port, certificate };
  }

  private reportUnsupportedMode(mode: BodySendMode, requestId: string): void {
    const first = !this.unsupportedModesSeen.has(mode);
    this.unsupportedModesSeen.add(mode);
    const fields = { requestId, mode, fix: 'set the ext_proc filter request_body_mode to FULL_DUPLEX_STREAMED or BUFFERED' };
    if (first) this.logger.warn(fields, 'ext_proc request body mode cannot be routed in: answering 500 unsupported-processing-mode (logged once per mode)');
    else this.logger.debug(fields, 'ext_proc request body mode cannot be routed in');
  }

  private serve(call: grpc.ServerDuplexStream<unknown, unknown>): void {
    // Only called back after construction, so `current` is initialised by then.
    const forget = (): void => {
      this.streams.delete(current);
    };
    const open = (): boolean => !call.destroyed && !call.writableEnded;
    const transport: StreamTransport = {
      send: (response: ProcessingResponse) => {
        if (open()) call.write(response);
      },
      end: () => {
        forget();
        if (open()) call.end();
      },
      fail: (code, details) => {
        forget();
        // grpc-js turns an 'error' event on a server stream into the call's final status.
        if (open()) call.emit('error', { code: STATUS[code], details });
      },
    };
    const current = new ExtProcStream(transport, {
      handler: this.handler,
      logger: this.logger,
      clock: this.clock,
      bodyChunkBytes: this.bodyChunkBytes,
      maxRequestBodyBytes: this.maxRequestBodyBytes,
      maxRequestHeaderBytes: this.maxRequestHeaderBytes,
      ...(this.newRequestId === undefined ? {} : { newRequestId: this.newRequestId }),
      ...(this.startedResponseEviction === undefined ? {} : { startedResponseEviction: this.startedResponseEviction }),
      ...(this.bodyModes === undefined ? {} : { bodyModes: this.bodyModes }),
      ...(this.observer === undefined ? {} : { observer: this.observer }),
      onUnsupportedMode: (mode, requestId) => this.reportUnsupportedMode(mode, requestId),
    });
    this.streams.add(current);
    call.on('data', (message: unknown) => current.onMessage(message));
    call.on('end', () => current.onHalfClose());
    const cancelled = (): void => {
      current.onCancel();
      forget();
    };
    call.on('cancelled', cancelled);
    call.on('error', cancelled);
    call.on('close', cancelled);
  }
}
