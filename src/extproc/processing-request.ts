// Turns a decoded ext_proc ProcessingRequest into a typed, discriminated message (or a protocol error).
import { type UnknownRecord, arrayField, boolField, bytesField, isRecord, recordField, stringField } from './narrow.js';
import { type BodyModes, readProtocolConfig } from './processing-mode.js';

/** Header name/value pairs in arrival order, names lower-cased. */
export type HeaderList = readonly (readonly [name: string, value: string])[];

/** `metadata_context.filter_metadata`: namespace -> decoded google.protobuf.Struct. */
export type FilterMetadata = ReadonlyMap<string, UnknownRecord>;

interface Common {
  readonly metadata: FilterMetadata | undefined;
  /** Envoy's body modes, from `protocol_config` (only on a stream's first message, and only from recent Envoys). */
  readonly protocol?: BodyModes;
}

export type ProcessingMessage =
  | (Common & { readonly kind: 'request_headers' | 'response_headers'; readonly headers: HeaderList; readonly endOfStream: boolean })
  | (Common & { readonly kind: 'request_body' | 'response_body'; readonly body: Buffer; readonly endOfStream: boolean })
  | (Common & { readonly kind: 'request_trailers' | 'response_trailers'; readonly trailers: HeaderList });

export type ProcessingKind = ProcessingMessage['kind'];

const KINDS: ReadonlySet<string> = new Set<ProcessingKind>([
  'request_headers',
  'response_headers',
  'request_body',
  'response_body',
  'request_trailers',
  'response_trailers',
]);

/** Returns the typed message, or a string saying why the message violates the protocol. */
export function parseProcessingRequest(raw: unknown): ProcessingMessage | string {
  if (!isRecord(raw)) return 'ProcessingRequest is not a message';
  const kind = stringField(raw, 'request');
  if (kind === undefined || !KINDS.has(kind)) return 'ProcessingRequest has no request oneof set';
  const payload = recordField(raw, kind) ?? {};
  const metadata = readFilterMetadata(raw);
  const protocol = readProtocolConfig(raw);
  const common = protocol === undefined ? { metadata } : { metadata, protocol };
  switch (kind as ProcessingKind) {
    case 'request_headers':
    case 'response_headers':
      return {
        kind: kind as 'request_headers' | 'response_headers',
        headers: readHeaderMap(recordField(payload, 'headers')),
        endOfStream: boolField(payload, 'end_of_stream'),
        ...common,
      };
    case 'request_body':
    case 'response_body':
      return {
        kind: kind as 'request_body' | 'response_body',
        body: bytesField(payload, 'body'),
        endOfStream: boolField(payload, 'end_of_stream'),
        ...common,
      };
    case 'request_trailers':
    case 'response_trailers':
      return {
        kind: kind as 'request_trailers' | 'response_trailers',
        trailers: readHeaderMap(recordField(payload, 'trailers')),
        ...common,
      };
  }
}

/** envoy.config.core.v3.HeaderMap. Envoy fills `raw_value` (bytes) in current versions, `value` in older ones. */
export function readHeaderMap(map: UnknownRecord | undefined): HeaderList {
  if (map === undefined) return [];
  const out: (readonly [string, string])[] = [];
  for (const entry of arrayField(map, 'headers')) {
    if (!isRecord(entry)) continue;
    const key = stringField(entry, 'key');
    if (key === undefined || key === '') continue;
    const raw = bytesField(entry, 'raw_value');
    const value = raw.length > 0 ? raw.toString('latin1') : (stringField(entry, 'value') ?? '');
    out.push([key.toLowerCase(), value]);
  }
  return out;
}

function readFilterMetadata(raw: UnknownRecord): FilterMetadata | undefined {
  const context = recordField(raw, 'metadata_context');
  const filter = context === undefined ? undefined : recordField(context, 'filter_metadata');
  if (filter === undefined) return undefined;
  const out = new Map<string, UnknownRecord>();
  for (const [ns, struct] of Object.entries(filter)) {
    if (isRecord(struct)) out.set(ns, struct);
  }
  return out.size === 0 ? undefined : out;
}
