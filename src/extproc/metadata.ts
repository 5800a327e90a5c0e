// Reads and writes the google.protobuf.Struct metadata Envoy and the picker exchange (subset hint, served endpoint).
// Struct/Value fields are camelCase here (protobufjs's bundled well-known types), unlike Envoy's messages.
import {
  HEADER_DESTINATION,
  HEADER_DESTINATION_SERVED,
  HEADER_DESTINATION_SUBSET,
  METADATA_NAMESPACE_LB,
  METADATA_NAMESPACE_SUBSET,
} from '../gateway/index.js';
import { type UnknownRecord, arrayField, isRecord, recordField, stringField } from './narrow.js';
import { type FilterMetadata } from './processing-request.js';

/** A google.protobuf.Value as the serializer accepts it. */
export type StructValue =
  | { readonly stringValue: string }
  | { readonly listValue: { readonly values: readonly StructValue[] } }
  | { readonly structValue: StructMessage };

export interface StructMessage {
  readonly fields: Readonly<Record<string, StructValue>>;
}

/**
 * `filter_metadata["envoy.lb.subset_hint"]["x-gateway-destination-endpoint-subset"]`: a list of `ip:port`.
 * A comma-separated string is accepted too. Undefined when the namespace or key is absent (no hint);
 * an empty array when the proxy sent an empty list (the handler must then refuse).
 */
export function readSubsetHint(metadata: FilterMetadata | undefined): string[] | undefined {
  const value = structEntry(metadata?.get(METADATA_NAMESPACE_SUBSET), HEADER_DESTINATION_SUBSET);
  if (value === undefined) return undefined;
  const list = recordField(value, 'listValue');
  if (list !== undefined) {
    const out: string[] = [];
    for (const item of arrayField(list, 'values')) {
      const s = isRecord(item) ? stringField(item, 'stringValue') : undefined;
      if (s !== undefined) out.push(...splitEndpoints(s));
    }
    return out;
  }
  const s = stringField(value, 'stringValue');
  return s === undefined ? undefined : splitEndpoints(s);
}

/** `filter_metadata["envoy.lb"]["x-gateway-destination-endpoint-served"]` on the response path. */
export function readServedEndpoint(metadata: FilterMetadata | undefined): string | undefined {
  const value = structEntry(metadata?.get(METADATA_NAMESPACE_LB), HEADER_DESTINATION_SERVED);
  const s = value === undefined ? undefined : stringField(value, 'stringValue');
  return s === undefined || s === '' ? undefined : s;
}

/** `dynamic_metadata` for a routed request: `envoy.lb` / `x-gateway-destination-endpoint` = the header value. */
export function destinationMetadata(destination: string): StructMessage {
  return {
    fields: {
      [METADATA_NAMESPACE_LB]: {
        structValue: { fields: { [HEADER_DESTINATION]: { stringValue: destination } } },
      },
    },
  };
}

/** Comma-separated endpoints, trimmed, empties dropped (IPv6 is bracketed, so commas never occur inside one). */
export function splitEndpoints(s: string): string[] {
  const out: string[] = [];
  for (const part of s.split(',')) {
    const t = part.trim();
    if (t !== '') out.push(t);
  }
  return out;
}

function structEntry(struct: UnknownRecord | undefined, key: string): UnknownRecord | undefined {
  const fields = struct === undefined ? undefined : recordField(struct, 'fields');
  return fields === undefined ? undefined : recordField(fields, key);
}
