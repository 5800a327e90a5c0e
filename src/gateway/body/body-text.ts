// The received body as its chunks (never concatenated), and strings of it kept as byte ranges: a long prompt is
// never turned into a JavaScript string, only copied (escapes decoded) into the prefix hasher as far as it reads.
import { PromptBytes } from '../../scheduler/index.js';

/** Chunks in arrival order with their offsets in the whole body. Locating an offset is O(log chunks). */
export class ChunkList {
  readonly chunks: Buffer[] = [];
  private readonly starts: number[] = [];
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.starts.push(this.total);
    this.total += chunk.length;
  }

  /** Index of the chunk holding body offset `offset` (< length). */
  locate(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  startOf(index: number): number {
    return this.starts[index] as number;
  }

  // The last answer of nextBackslash: valid for any later query in the same chunk up to that position.
  private memoChunk = -1;
  private memoFrom = 0;
  private memoAt = 0;

  /**
   * Index (in chunk `index`) of the first backslash at or after `from`, or the chunk's length. Remembers its last
   * answer, so decoding the strings of a body in order searches each byte about once even when most have none.
   */
  nextBackslash(index: number, from: number): number {
    if (index === this.memoChunk && from >= this.memoFrom && from <= this.memoAt) return this.memoAt;
    const chunk = this.chunks[index] as Buffer;
    const at = chunk.indexOf(0x5c, from);
    this.memoChunk = index;
    this.memoFrom = from;
    this.memoAt = at < 0 ? chunk.length : at;
    return this.memoAt;
  }

  byteAt(offset: number): number {
    const i = this.locate(offset);
    return (this.chunks[i] as Buffer)[offset - this.startOf(i)] as number;
  }

  /** Views (no copies) of the bytes [from, to), in order. */
  slices(from: number, to: number): Buffer[] {
    const out: Buffer[] = [];
    if (from >= to) return out;
    for (let i = this.locate(from); i < this.chunks.length; i++) {
      const start = this.startOf(i);
      if (start >= to) break;
      const chunk = this.chunks[i] as Buffer;
      out.push(chunk.subarray(Math.max(0, from - start), Math.min(chunk.length, to - start)));
    }
    return out;
  }

  /** The bytes [from, to) as one Buffer: a view when they lie in one chunk, else a copy. */
  range(from: number, to: number): Buffer {
    const parts = this.slices(from, to);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, to - from);
  }
}

const UTF8_CONTINUATION = 0x80;

/** The longest prefix of `bytes[from, from + n)` that ends on a UTF-8 character boundary of `bytes`. */
function wholeCharacters(bytes: Uint8Array, from: number, n: number): number {
  while (n > 0 && ((bytes[from + n] as number) & 0xc0) === UTF8_CONTINUATION) n--;
  return n;
}

/** Byte `k` of the escape at body offset `g`, which starts in chunk `ci` (it may end in a later one). */
function escapeByte(body: ChunkList, ci: number, g: number, k: number): number {
  const local = g + k - body.startOf(ci);
  const chunk = body.chunks[ci] as Buffer;
  return local < chunk.length ? (chunk[local] as number) : body.byteAt(g + k);
}

function hex4(body: ChunkList, ci: number, g: number, at: number): number {
  let v = 0;
  for (let k = at; k < at + 4; k++) {
    const c = escapeByte(body, ci, g, k);
    v = v * 16 + (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
  }
  return v;
}

/**
 * A JSON string of the body (its content, between the quotes), already validated by the scanner. `escaped` says
 * whether it holds any backslash escape; without one its bytes are its UTF-8 as they stand.
 */
export class BodyText extends PromptBytes {
  constructor(
    private readonly body: ChunkList,
    readonly start: number,
    readonly end: number,
    readonly escaped: boolean,
  ) {
    super();
  }

  /** Bytes in the body (escaped form). */
  get byteLength(): number {
    return this.end - this.start;
  }

  writeUtf8(into: Uint8Array, at: number): number {
    return this.escaped ? decodeEscaped(this.body, this.start, this.end, into, at) : this.copyRaw(into, at);
  }

  /** The decoded string. For short strings (model names, keys); the prompt is never decoded whole. */
  override toString(): string {
    if (!this.escaped) return this.body.range(this.start, this.end).toString('utf8');
    const out = Buffer.allocUnsafe((this.end - this.start) * 3);
    return out.toString('utf8', 0, decodeEscaped(this.body, this.start, this.end, out, 0));
  }

  private copyRaw(into: Uint8Array, at: number): number {
    let n = Math.min(this.end - this.start, into.length - at);
    if (n < this.end - this.start) {
      // Cut inside a character: keep whole characters only, as encodeInto would.
      while (n > 0 && (this.body.byteAt(this.start + n) & 0xc0) === UTF8_CONTINUATION) n--;
    }
    let written = 0;
    for (const part of this.body.slices(this.start, this.start + n)) {
      into.set(part, at + written);
      written += part.length;
    }
    return written;
  }
}

/** Runs shorter than this are copied byte by byte: a view per run would cost more than the copy. */
const SHORT_RUN = 48;

function copyRun(src: Uint8Array, from: number, to: number, into: Uint8Array, at: number): void {
  if (to - from >= SHORT_RUN) {
    into.set(src.subarray(from, to), at);
    return;
  }
  for (let i = from; i < to; i++) into[at++] = src[i] as number;
}

/**
 * Decodes the JSON string content at body bytes [start, end) (escapes already validated) into UTF-8 in `into` from
 * `at`, whole characters only, while they fit; returns the bytes written. Runs between escapes are copied from
 * the chunks where they lie; an escape is read byte by byte, so one cut by a chunk boundary needs nothing special.
 */
function decodeEscaped(body: ChunkList, start: number, end: number, into: Uint8Array, at: number): number {
  let out = at;
  let g = start;
  let ci = body.locate(g);
  while (g < end) {
    const chunk = body.chunks[ci] as Buffer;
    const base = body.startOf(ci);
    const limit = Math.min(chunk.length, end - base);
    const i = g - base;
    const backslash = Math.min(body.nextBackslash(ci, i), limit);
    const room = into.length - out;
    if (backslash - i > room) {
      const n = wholeCharacters(chunk, i, room);
      copyRun(chunk, i, i + n, into, out);
      return out + n - at;
    }
    copyRun(chunk, i, backslash, into, out);
    out += backslash - i;
    g = base + backslash;
    if (backslash === limit) {
      ci++;
      continue;
    }
    let cp: number;
    let length = 2;
    switch (escapeByte(body, ci, g, 1)) {
      case 0x62: cp = 0x08; break; // \b
      case 0x66: cp = 0x0c; break; // \f
      case 0x6e: cp = 0x0a; break; // \n
      case 0x72: cp = 0x0d; break; // \r
      case 0x74: cp = 0x09; break; // \t
      case 0x75: {
        // \uXXXX, a surrogate pair as two; a lone surrogate becomes U+FFFD, as TextEncoder writes it.
        cp = hex4(body, ci, g, 2);
        length = 6;
        if (cp >= 0xd800 && cp <= 0xdbff && g + 12 <= end && escapeByte(body, ci, g, 6) === 0x5c && escapeByte(body, ci, g, 7) === 0x75) {
          const low = hex4(body, ci, g, 8);
          if (low >= 0xdc00 && low <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            length = 12;
          }
        }
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
        break;
      }
      default: cp = escapeByte(body, ci, g, 1); // \" \\ \/
    }
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (into.length - out < size) return out - at;
    if (size === 1) {
      into[out++] = cp;
    } else if (size === 2) {
      into[out++] = 0xc0 | (cp >> 6);
      into[out++] = 0x80 | (cp & 0x3f);
    } else if (size === 3) {
      into[out++] = 0xe0 | (cp >> 12);
      into[out++] = 0x80 | ((cp >> 6) & 0x3f);
      into[out++] = 0x80 | (cp & 0x3f);
    } else {
      into[out++] = 0xf0 | (cp >> 18);
      into[out++] = 0x80 | ((cp >> 12) & 0x3f);
      into[out++] = 0x80 | ((cp >> 6) & 0x3f);
      into[out++] = 0x80 | (cp & 0x3f);
    }
    g += length;
    if (g >= base + chunk.length && g < end) ci = body.locate(g);
  }
  return out - at;
}
