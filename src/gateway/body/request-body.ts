// A request body as the front ends hand it over: the chunks as received, never concatenated, with the scan made
// while they arrived; and the forwarded body after a model rewrite (views of the same chunks around a new model).
import { type BodyScanResult, BodyScanner } from './body-scanner.js';

export interface RequestBody {
  /** In order; their bytes are the body. */
  readonly chunks: readonly Buffer[];
  readonly length: number;
  /** The scan of these chunks, when the front end scanned them as they arrived; else the pipeline scans. */
  readonly scan?: BodyScanResult;
}

/** A body is either one Buffer (tests, small callers) or received chunks. */
export type BodyBytes = Buffer | RequestBody;

/** What a front end feeds each received chunk to: keeps it and scans it at once, spreading the work over arrival. */
export class BodyReader {
  private readonly scanner = new BodyScanner();

  get length(): number {
    return this.scanner.body.length;
  }

  write(chunk: Buffer): void {
    this.scanner.write(chunk);
  }

  finish(): RequestBody {
    return { chunks: this.scanner.body.chunks, length: this.scanner.body.length, scan: this.scanner.end() };
  }
}

export function bodyChunks(body: BodyBytes): readonly Buffer[] {
  return Buffer.isBuffer(body) ? (body.length === 0 ? [] : [body]) : body.chunks;
}

/** The body in one Buffer: the Buffer itself, or a copy of the chunks (tests and the rare caller needing it). */
export function bodyToBuffer(body: BodyBytes): Buffer {
  if (Buffer.isBuffer(body)) return body;
  return body.chunks.length === 1 ? (body.chunks[0] as Buffer) : Buffer.concat(body.chunks, body.length);
}

/** The body's scan: the one the front end made, or one made now. */
export function scanBody(body: BodyBytes): BodyScanResult {
  if (!Buffer.isBuffer(body) && body.scan !== undefined) return body.scan;
  const scanner = new BodyScanner();
  for (const chunk of bodyChunks(body)) scanner.write(chunk);
  return scanner.end();
}

/** The body with the bytes `range` replaced by `replacement`: views of the original chunks around one new chunk. */
export function replaceRange(body: BodyBytes, range: { readonly start: number; readonly end: number }, replacement: Buffer): RequestBody {
  const out: Buffer[] = [];
  let offset = 0;
  for (const chunk of bodyChunks(body)) {
    const start = offset;
    offset += chunk.length;
    if (start < range.start) out.push(chunk.subarray(0, Math.min(chunk.length, range.start - start)));
    if (start <= range.start && range.start < offset) out.push(replacement);
    if (offset > range.end) out.push(chunk.subarray(Math.max(0, range.end - start)));
  }
  if (range.start >= offset) out.push(replacement);
  return { chunks: out, length: body.length - (range.end - range.start) + replacement.length };
}
