// HTTP/2 flow-control windows of a grpc-js server's connections. grpc-js sets none on its server sessions, so Node's
// 65,535-byte stream and connection windows apply: a 64 KiB body chunk (65,536 bytes plus gRPC and protobuf framing)
// cannot arrive in one flight, and every 32 KiB read needs a WINDOW_UPDATE written by this process's event loop and
// read by the sender's before it sends more. A 225 KB body then waits on several round trips through two busy event
// loops (bench/extproc/README.md, "HTTP/2 windows"). Envoy opens 256 MiB windows on its side by default; grpc-go sizes
// its windows from the measured bandwidth-delay product.
// grpc-js offers no public hook on its server sessions: the listening http2 servers are reached through its private
// `http2Servers` map after bind, checked at run time; if the shape differs, the caller logs it and the defaults stay.
import { type Http2Session } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/** HTTP/2's initial window (RFC 9113 6.9.2): what a session has until told otherwise. */
export const HTTP2_DEFAULT_WINDOW_BYTES = 65_535;
/** HTTP/2's largest window (2^31 - 1). */
export const HTTP2_MAX_WINDOW_BYTES = 2 ** 31 - 1;

/**
 * The connection's window, in streams' windows: Envoy multiplexes many requests on few connections, so one stream's
 * window for all of them would serialise their bodies again. Node takes data off the connection's window as it
 * arrives (only a stream's window waits for the reader), so this bounds bytes in flight, not memory.
 */
export const HTTP2_CONNECTION_WINDOW_STREAMS = 16;

export interface Http2Windows {
  /** SETTINGS_INITIAL_WINDOW_SIZE: what the peer may send on one stream before this side has read it. */
  readonly streamBytes: number;
  /** The connection's window: what the peer may have in flight across all streams of one connection. */
  readonly connectionBytes: number;
}

/**
 * The windows for a stream window of `streamBytes`: the connection gets HTTP2_CONNECTION_WINDOW_STREAMS times it,
 * and HTTP/2's own default asks for no tuning at all (the connection keeps its default window too).
 */
export function windowsForStream(streamBytes: number): Http2Windows {
  const connectionBytes = streamBytes === HTTP2_DEFAULT_WINDOW_BYTES ? streamBytes : Math.min(HTTP2_MAX_WINDOW_BYTES, streamBytes * HTTP2_CONNECTION_WINDOW_STREAMS);
  return { streamBytes, connectionBytes };
}

interface EventSource {
  on(event: 'session', listener: (session: Http2Session) => void): unknown;
}

function isEventSource(value: unknown): value is EventSource {
  return typeof value === 'object' && value !== null && typeof (value as { on?: unknown }).on === 'function';
}

/** The http2 servers grpc-js listens with, or undefined when its internals are not the shape this was written for. */
function listeningHttp2Servers(server: grpc.Server): EventSource[] | undefined {
  const servers: unknown = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return undefined;
  const found: EventSource[] = [];
  for (const key of servers.keys() as IterableIterator<unknown>) {
    if (!isEventSource(key)) return undefined;
    found.push(key);
  }
  return found;
}

/** Opens `windows` on a freshly accepted session (its own SETTINGS frame, and a WINDOW_UPDATE for the connection). */
export function openSessionWindows(session: Http2Session, windows: Http2Windows): void {
  if (session.destroyed) return;
  try {
    if (windows.streamBytes !== HTTP2_DEFAULT_WINDOW_BYTES) session.settings({ initialWindowSize: windows.streamBytes });
    if (windows.connectionBytes > HTTP2_DEFAULT_WINDOW_BYTES) session.setLocalWindowSize(windows.connectionBytes);
  } catch {
    // A session closed between accept and here (ERR_HTTP2_INVALID_SESSION): nothing to tune.
  }
}

/**
 * Applies `windows` to every session `server` accepts from now on. Call after `bindAsync` resolved (the listening
 * servers exist from then on), before traffic. Returns false, changing nothing, when grpc-js's internals cannot be
 * reached: the server then runs with Node's 64 KiB windows.
 */
export function applyHttp2Windows(server: grpc.Server, windows: Http2Windows): boolean {
  const servers = listeningHttp2Servers(server);
  if (servers === undefined) return false;
  for (const s of servers) s.on('session', (session) => openSessionWindows(session, windows));
  return true;
}
