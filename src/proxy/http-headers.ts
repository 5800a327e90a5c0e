// Header handling for the HTTP proxy: lower-cased maps for the pipeline, hop-by-hop filtering both ways.
import { type IncomingHttpHeaders } from 'node:http';
import { HEADER_DESTINATION, HEADER_DESTINATION_SUBSET } from '../gateway/index.js';

/** RFC 9110 section 7.6.1 connection-specific headers, plus those we recompute (host, content-length). */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  // Node's server already answered `Expect: 100-continue`; forwarding it makes undici refuse the request.
  'expect',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Node already lower-cases names; repeated headers are joined with ", " (set-cookie included). */
export function headerMapOf(headers: IncomingHttpHeaders): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    map.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return map;
}

/**
 * Routing hints addressed to the gateway, not to the model server: the proxy acts on them (or, untrusted, ignores
 * them) and never passes a client's copy on, which would only tell the upstream what the client asked for.
 */
const GATEWAY_ROUTING: ReadonlySet<string> = new Set([HEADER_DESTINATION, HEADER_DESTINATION_SUBSET]);

/**
 * Headers to send upstream: the client's minus hop-by-hop, host and content-length (undici sets those) and the
 * gateway's routing hints, plus the pipeline's own headers (`extra`).
 */
export function upstreamRequestHeaders(
  incoming: ReadonlyMap<string, string>,
  extra: ReadonlyMap<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of incoming) {
    if (HOP_BY_HOP.has(name) || GATEWAY_ROUTING.has(name) || name === 'host' || name === 'content-length') continue;
    out[name] = value;
  }
  for (const [name, value] of extra) out[name.toLowerCase()] = value;
  return out;
}

/** Response headers to relay to the client: upstream's minus hop-by-hop (node re-frames the body). */
export function clientResponseHeaders(upstream: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name.toLowerCase())) continue;
    out[name] = value;
  }
  return out;
}

/** The same headers as a lower-cased map for the ResponseObserver. */
export function responseHeaderMap(headers: Record<string, string | string[]>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) map.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value);
  return map;
}
