// Envoy's body send modes as a stream sees them: what Envoy announces in `protocol_config`, else what the operator
// configured, and which of them Fairway can route in (the destination must reach Envoy before the request leaves).
import { type UnknownRecord, recordField, stringField } from './narrow.js';

/** envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode, by name. */
export const BODY_SEND_MODES = ['NONE', 'STREAMED', 'BUFFERED', 'BUFFERED_PARTIAL', 'FULL_DUPLEX_STREAMED', 'GRPC'] as const;
export type BodySendMode = (typeof BODY_SEND_MODES)[number];

/**
 * Request body modes Fairway routes in. FULL_DUPLEX_STREAMED: Envoy streams the body in and Fairway streams it back
 * after the route. BUFFERED: Envoy holds the body and sends it once, the route goes back in the body's answer, the
 * body itself only when rewritten. The others send headers on before Fairway has seen the body (STREAMED, NONE) or
 * only part of it (BUFFERED_PARTIAL), so a body-based route cannot be given in them.
 */
export const ROUTABLE_REQUEST_BODY_MODES = ['FULL_DUPLEX_STREAMED', 'BUFFERED'] as const;
export type RequestBodyMode = (typeof ROUTABLE_REQUEST_BODY_MODES)[number];

export interface BodyModes {
  readonly request: BodySendMode;
  readonly response: BodySendMode;
}

export const DEFAULT_BODY_MODES: BodyModes = { request: 'FULL_DUPLEX_STREAMED', response: 'FULL_DUPLEX_STREAMED' };

export function isRoutableRequestMode(mode: BodySendMode): mode is RequestBodyMode {
  return (ROUTABLE_REQUEST_BODY_MODES as readonly string[]).includes(mode);
}

/**
 * `ProcessingRequest.protocol_config`, when Envoy sent one (the first message of a stream, recent Envoy versions).
 * Proto3 leaves a NONE mode (0) off the wire, so a present config with a missing mode means NONE.
 */
export function readProtocolConfig(raw: UnknownRecord): BodyModes | undefined {
  const config = recordField(raw, 'protocol_config');
  if (config === undefined) return undefined;
  return { request: modeOf(config, 'request_body_mode'), response: modeOf(config, 'response_body_mode') };
}

function modeOf(config: UnknownRecord, field: string): BodySendMode {
  const name = stringField(config, field);
  if (name === undefined) return config[field] === undefined ? 'NONE' : unknownMode(config[field]);
  return (BODY_SEND_MODES as readonly string[]).includes(name) ? (name as BodySendMode) : 'NONE';
}

/** A mode number our protos do not name (a newer Envoy): treated as one we cannot route in. */
function unknownMode(value: unknown): BodySendMode {
  return typeof value === 'number' && value >= 0 && value < BODY_SEND_MODES.length ? (BODY_SEND_MODES[value] ?? 'NONE') : 'NONE';
}
