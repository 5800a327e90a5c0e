// Typed narrowing of the untyped objects @grpc/proto-loader hands us (no `any`, no blind casts).

export type UnknownRecord = Readonly<Record<string, unknown>>;

export function isRecord(value: unknown): value is UnknownRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function recordField(obj: UnknownRecord, key: string): UnknownRecord | undefined {
  const v = obj[key];
  return isRecord(v) ? v : undefined;
}

export function stringField(obj: UnknownRecord, key: string): string | undefined {
  const v = obj[key];
  return typeof v === 'string' ? v : undefined;
}

export function boolField(obj: UnknownRecord, key: string): boolean {
  return obj[key] === true;
}

export function arrayField(obj: UnknownRecord, key: string): readonly unknown[] {
  const v = obj[key];
  return Array.isArray(v) ? (v as readonly unknown[]) : [];
}

/** `bytes` fields decode to Buffers under Node; wrap any other Uint8Array without copying. */
export function bytesField(obj: UnknownRecord, key: string): Buffer {
  const v = obj[key];
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return EMPTY_BUFFER;
}

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);
