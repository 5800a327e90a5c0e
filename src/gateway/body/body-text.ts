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

function hex4(src: Uint8Array, at: number): number {
  let v = 0;
  for (let i = at; i < at + 4; i++) {
    const c = src[i] as number;
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
    if (!this.escaped) return this.copyRaw(into, at);
    return decodeEscaped(this.body.range(this.start, this.end), into, at);
  }

  /** The decoded string. For short strings (model names, keys); the prompt is never decoded whole. */
  override toString(): string {
    const raw = this.body.range(this.start, this.end);
    if (!this.escaped) return raw.toString('utf8');
    const out = Buffer.allocUnsafe(raw.length * 3);
    return out.toString('utf8', 0, decodeEscaped(raw, out, 0));
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

/** Decodes JSON string content (escapes valid) into UTF-8, whole characters only, while they fit. */
function decodeEscaped(src: Buffer, into: Uint8Array, at: number): number {
  let out = at;
  let i = 0;
  while (i < src.length) {
    const backslash = src.indexOf(0x5c, i);
    const runEnd = backslash < 0 ? src.length : backslash;
    const room = into.length - out;
    if (runEnd - i > room) {
      const n = wholeCharacters(src, i, room);
      into.set(src.subarray(i, i + n), out);
      return out + n - at;
    }
    into.set(src.subarray(i, runEnd), out);
    out += runEnd - i;
    if (backslash < 0) break;
    let cp: number;
    let length = 2;
    switch (src[backslash + 1]) {
      case 0x62: cp = 0x08; break; // \b
      case 0x66: cp = 0x0c; break; // \f
      case 0x6e: cp = 0x0a; break; // \n
      case 0x72: cp = 0x0d; break; // \r
      case 0x74: cp = 0x09; break; // \t
      case 0x75: {
        // \uXXXX, a surrogate pair as two; a lone surrogate becomes U+FFFD, as TextEncoder writes it.
        cp = hex4(src, backslash + 2);
        length = 6;
        if (cp >= 0xd800 && cp <= 0xdbff && src[backslash + 6] === 0x5c && src[backslash + 7] === 0x75) {
          const low = hex4(src, backslash + 8);
          if (low >= 0xdc00 && low <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            length = 12;
          }
        }
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
        break;
      }
      default: cp = src[backslash + 1] as number; // \" \\ \/
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
    i = backslash + length;
  }
  return out - at;
}
