// The load client both servers face: real gRPC, each request a full Envoy-like exchange (headers, body chunks,
// then a one-chunk response). Latency = request headers sent -> last request-body answer received. In BUFFERED
// mode, as Envoy then does: headers (announcing the mode), their answer, the whole body in one message.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Summary } from '../../src/core/index.js';
import { loadExtProcProtos } from '../../src/extproc/index.js';

export interface LoadResult {
  readonly completed: number;
  readonly errors: number;
  readonly seconds: number;
  readonly reqPerSec: number;
  readonly latencyMs: Summary;
  /** Open loop: how late each request left against its schedule (the client's own stalls; empty in a closed loop). */
  readonly sendLateMs: Summary;
}

/** Envoy forwards bodies in buffer-sized pieces; 16 KiB is a typical chunk. */
const ENVOY_CHUNK = 16_384;
const EXCHANGE_DEADLINE_MS = 60_000;

export interface LoadClientOptions {
  /** Channels, as several Envoy workers would open. @default 4 */
  readonly channels?: number;
  /** Request body chunk size. @default 16 KiB */
  readonly chunkBytes?: number;
  /** `:path` of every request. @default /v1/completions */
  readonly path?: string;
  /** Envoy's request body mode. @default FULL_DUPLEX_STREAMED */
  readonly bodyMode?: BodyMode;
  /**
   * The HTTP/2 window the client opens for the server's answers (stream and connection; Envoy opens 256 MiB unless
   * configured, Http2ProtocolOptions). 0: grpc-js's default (Node's 64 KiB). Against a server with large windows of its own,
   * a large window here can deadlock the pair: a Node HTTP/2 session stops reading its socket while one of its writes
   * is pending, so two Node peers each writing more than the socket buffers hold wait on each other for ever (Envoy
   * keeps reading). @default 0
   */
  readonly windowBytes?: number;
  /**
   * Send `x-request-id` (a fresh UUID, as Envoy sends with every request); false leaves it out, so Fairway generates
   * one itself (about 2% of a 1 KB request's path): the flag shows both costs. @default true
   */
  readonly requestId?: boolean;
}

export type BodyMode = 'FULL_DUPLEX_STREAMED' | 'BUFFERED';

export class LoadClient {
  private readonly clients: grpc.Client[];
  private readonly method = loadExtProcProtos().processMethod;
  private next = 0;
  private readonly chunkBytes: number;
  private readonly path: Buffer;
  private readonly buffered: boolean;
  private readonly requestId: boolean;

  constructor(address: string, options: LoadClientOptions = {}) {
    this.buffered = options.bodyMode === 'BUFFERED';
    this.requestId = options.requestId ?? true;
    const channels = options.channels ?? 4;
    this.chunkBytes = options.chunkBytes ?? ENVOY_CHUNK;
    this.path = Buffer.from(options.path ?? '/v1/completions');
    const windowBytes = options.windowBytes ?? 0;
    const window = windowBytes > 0 ? { 'grpc-node.flow_control_window': windowBytes } : {};
    this.clients = Array.from(
      { length: channels },
      (_, i) => new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.channel_id': i, ...window }),
    );
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  /** One full exchange; resolves with the request-phase latency in ms. */
  exchange(body: Buffer): Promise<number> {
    const client = this.clients[this.next++ % this.clients.length] as grpc.Client;
    const call = client.makeBidiStreamRequest<object, { response?: string; request_body?: unknown; response_body?: unknown }>(
      this.method.path,
      this.method.requestSerialize,
      this.method.responseDeserialize as (b: Buffer) => { response?: string },
      new grpc.Metadata(),
      // A stuck exchange fails its phase instead of hanging the benchmark.
      { deadline: Date.now() + EXCHANGE_DEADLINE_MS },
    );
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      let latency = -1;
      let answers = 0;
      call.on('data', (m: { response?: string; request_body?: { response?: { body_mutation?: { streamed_response?: { end_of_stream?: boolean } } } } }) => {
        answers++;
        if (m.response === 'request_headers' && this.buffered) {
          call.write({ request_body: { body, end_of_stream: true } });
        } else if (m.response === 'request_body' && (this.buffered || m.request_body?.response?.body_mutation?.streamed_response?.end_of_stream === true)) {
          latency = performance.now() - t0;
          call.write({ response_headers: { headers: { headers: [{ key: ':status', raw_value: Buffer.from('200') }] } } });
          call.write({ response_body: { body: Buffer.from('{"usage":{"prompt_tokens":1}}'), end_of_stream: true } });
        } else if (m.response === 'response_body') {
          call.end();
        } else if (m.response === 'immediate_response') {
          reject(new Error('unexpected immediate response'));
        }
      });
      call.on('error', reject);
      call.on('status', (s: grpc.StatusObject) => {
        if (s.code === grpc.status.OK && latency >= 0 && answers >= 4) resolve(latency);
        else reject(new Error(`stream ended with ${s.code} ${s.details}`));
      });
      call.write({
        request_headers: {
          headers: {
            headers: [
              { key: ':method', raw_value: Buffer.from('POST') },
              { key: ':path', raw_value: this.path },
              { key: 'content-type', raw_value: Buffer.from('application/json') },
              ...(this.requestId ? [{ key: 'x-request-id', raw_value: Buffer.from(randomUUID()) }] : []),
            ],
          },
        },
        ...(this.buffered ? { protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'FULL_DUPLEX_STREAMED' } } : {}),
      });
      if (this.buffered) return;
      for (let o = 0; o < body.length; o += this.chunkBytes) {
        const end = Math.min(body.length, o + this.chunkBytes);
        call.write({ request_body: { body: body.subarray(o, end), end_of_stream: end === body.length } });
      }
    });
  }

  /** As many requests as `concurrency` allows for `durationMs` (or `maxRequests`): saturating load. */
  closedLoop(body: Bodies, concurrency: number, durationMs: number, maxRequests = 1_000_000): Promise<LoadResult> {
    return closedLoop((b) => this.exchange(b), body, concurrency, durationMs, maxRequests);
  }

  /** Requests started at a fixed rate regardless of completions (open loop), for `durationMs`. */
  openLoop(body: Bodies, ratePerSec: number, durationMs: number): Promise<LoadResult> {
    return openLoop((b) => this.exchange(b), body, ratePerSec, durationMs);
  }
}

/** One body for every request, or a function giving each request its own. */
export type Bodies = Buffer | (() => Buffer);

/** Closed loop over any exchange (resolving with its latency in ms): `concurrency` callers, back to back. */
export async function closedLoop(
  exchange: (body: Buffer) => Promise<number>,
  body: Bodies,
  concurrency: number,
  durationMs: number,
  maxRequests = 1_000_000,
): Promise<LoadResult> {
  const latencyMs = new Summary();
  let errors = 0;
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && started < maxRequests) {
      started++;
      try {
        latencyMs.add(await exchange(typeof body === 'function' ? body() : body));
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { completed: latencyMs.count, errors, seconds, reqPerSec: latencyMs.count / seconds, latencyMs, sendLateMs: new Summary() };
}

/** Open loop over any exchange: requests started at a fixed rate regardless of completions, for `durationMs`. */
export async function openLoop(exchange: (body: Buffer) => Promise<number>, body: Bodies, ratePerSec: number, durationMs: number): Promise<LoadResult> {
  const latencyMs = new Summary();
  const sendLateMs = new Summary();
  let errors = 0;
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  const total = Math.floor((ratePerSec * durationMs) / 1000);
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / ratePerSec;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sendLateMs.add(Math.max(0, performance.now() - due));
    pending.push(
      exchange(typeof body === 'function' ? body() : body).then(
        (ms) => latencyMs.add(ms),
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  const seconds = (performance.now() - t0) / 1000;
  return { completed: latencyMs.count, errors, seconds, reqPerSec: latencyMs.count / seconds, latencyMs, sendLateMs };
}
