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

  private readonly views: (DataView | undefined)[] = [];

  /** A DataView of chunk `index` (made on first use), for reading it four bytes at a time. */
  view(index: number): DataView {
    let v = this.views[index];
    if (v === undefined) {
      const chunk = this.chunks[index] as Buffer;
      v = this.views[index] = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    return v;
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

/**
 * The pool keeps up to 32 buffers (about as many bodies as a busy server scans at once) and 16 MB in all; a buffer
 * it has no room for is left to the garbage collector.
 */
const POOL_SIZE = 32;
const POOL_BYTES = 16 * 1024 * 1024;
const INITIAL_ARENA_BYTES = 16 * 1024;
/** A body's strings are decoded while they scan up to this many bytes in all; later ones stay escaped ranges. */
export const MAX_DECODED_BYTES = 4 * 1024 * 1024;
const pool: Uint8Array[] = [];
let pooledBytes = 0;

function fromPool(): Uint8Array | undefined {
  const buf = pool.pop();
  if (buf !== undefined) pooledBytes -= buf.length;
  return buf;
}

/**
 * Where the scanner writes the decoded UTF-8 of the prompt's strings as they arrive (one pass over the bytes
 * instead of a scan, then a decode). The buffer comes from a small pool and goes back with {@link release}, after
 * the prompt was hashed; a {@link BodyText} read after that decodes its escaped range again, so an early or missing
 * release costs time, never correctness.
 */
export class DecodeArena {
  buf: Uint8Array | undefined;
  /** Four-byte access to `buf`. */
  view: DataView;
  used = 0;

  constructor() {
    const buf = fromPool() ?? new Uint8Array(INITIAL_ARENA_BYTES);
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Whether `bytes` more fit (growing the buffer up to MAX_DECODED_BYTES); false past that, or once released. */
  reserve(bytes: number): boolean {
    const buf = this.buf;
    if (buf === undefined) return false;
    const need = this.used + bytes;
    if (need <= buf.length) return true;
    if (need > MAX_DECODED_BYTES) return false;
    let size = buf.length * 2;
    while (size < need) size *= 2;
    const grown = new Uint8Array(Math.min(size, MAX_DECODED_BYTES));
    grown.set(buf.subarray(0, this.used));
    this.buf = grown;
    this.view = new DataView(grown.buffer);
    return true;
  }

  /** Hands the buffer back to the pool; texts decoded into it read their escaped bytes from then on. */
  release(): void {
    const buf = this.buf;
    if (buf === undefined) return;
    this.buf = undefined;
    if (pool.length < POOL_SIZE && pooledBytes + buf.length <= POOL_BYTES) {
      pool.push(buf);
      pooledBytes += buf.length;
    }
  }
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
 * whether it holds any backslash escape; without one its bytes are its UTF-8 as they stand. When the scanner
 * decoded it, `arena` holds its UTF-8 at [from, to) until released.
 */
export class BodyText extends PromptBytes {
  constructor(
    private readonly body: ChunkList,
    readonly start: number,
    readonly end: number,
    readonly escaped: boolean,
    private readonly arena?: DecodeArena,
    private readonly from = 0,
    private readonly to = 0,
  ) {
    super();
  }

  /** Bytes in the body (escaped form). */
  get byteLength(): number {
    return this.end - this.start;
  }

  writeUtf8(into: Uint8Array, at: number): number {
    const decoded = this.arena?.buf;
    if (decoded !== undefined) return copyWhole(decoded, this.from, this.to, into, at);
    return this.escaped ? decodeEscaped(this.body, this.start, this.end, into, at) : this.copyRaw(into, at);
  }

  /** The decoded string. For short strings (model names, keys); the prompt is never made a string. */
  override toString(): string {
    const decoded = this.arena?.buf;
    if (decoded !== undefined) return Buffer.from(decoded.buffer, decoded.byteOffset, decoded.byteLength).toString('utf8', this.from, this.to);
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

/** Copies UTF-8 bytes [from, to) of `src` into `into` at `at`, whole characters only while they fit. */
function copyWhole(src: Uint8Array, from: number, to: number, into: Uint8Array, at: number): number {
  let n = Math.min(to - from, into.length - at);
  if (n < to - from) while (n > 0 && ((src[from + n] as number) & 0xc0) === UTF8_CONTINUATION) n--;
  into.set(src.subarray(from, from + n), at);
  return n;
}

/** Whether any byte of the 32-bit word `v` is `byte` (SWAR: the zero-byte test on v ^ byte x 4; exact, no false hits). */
function hasByte(v: number, byte4: number): boolean {
  const x = v ^ byte4;
  return ((x - 0x01010101) & ~x & 0x80808080) !== 0;
}

const BACKSLASHES = 0x5c5c5c5c;

/**
 * Decodes the JSON string content at body bytes [start, end) (escapes already validated) into UTF-8 in `into` from
 * `at`, whole characters only, while they fit; returns the bytes written. Text between escapes is moved four bytes
 * at a time through DataViews while no backslash is among them (no view or copy allocated per run: a prompt with
 * an escape every 30 bytes made thousands, and so young-generation collections); an escape is read byte by byte,
 * so one cut by a chunk boundary needs nothing special. O(bytes).
 */
function decodeEscaped(body: ChunkList, start: number, end: number, into: Uint8Array, at: number): number {
  const dst = new DataView(into.buffer, into.byteOffset, into.byteLength);
  const cap = into.length;
  let out = at;
  // Where the bytes copied as they stand begin (after the last decoded escape): a cut character ends there.
  let raw = at;
  let g = start;
  let ci = body.locate(g);
  while (g < end) {
    const chunk = body.chunks[ci] as Buffer;
    const base = body.startOf(ci);
    const limit = Math.min(chunk.length, end - base);
    const src = body.view(ci);
    let i = g - base;
    while (i < limit) {
      while (i + 4 <= limit && out + 4 <= cap) {
        const v = src.getUint32(i, true);
        if (hasByte(v, BACKSLASHES)) break;
        dst.setUint32(out, v, true);
        i += 4;
        out += 4;
      }
      if (i >= limit) break;
      const c = chunk[i] as number;
      if (c !== 0x5c) {
        if (out >= cap) return wholeCharacters(body, base + i, into, out, raw) - at;
        into[out++] = c;
        i++;
        continue;
      }
      const e = base + i;
      let cp: number;
      let length = 2;
      switch (escapeByte(body, ci, e, 1)) {
        case 0x62: cp = 0x08; break; // \b
        case 0x66: cp = 0x0c; break; // \f
        case 0x6e: cp = 0x0a; break; // \n
        case 0x72: cp = 0x0d; break; // \r
        case 0x74: cp = 0x09; break; // \t
        case 0x75: {
          // \uXXXX, a surrogate pair as two; a lone surrogate becomes U+FFFD, as TextEncoder writes it.
          cp = hex4(body, ci, e, 2);
          length = 6;
          if (cp >= 0xd800 && cp <= 0xdbff && e + 12 <= end && escapeByte(body, ci, e, 6) === 0x5c && escapeByte(body, ci, e, 7) === 0x75) {
            const low = hex4(body, ci, e, 8);
            if (low >= 0xdc00 && low <= 0xdfff) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
              length = 12;
            }
          }
          if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
          break;
        }
        default: cp = escapeByte(body, ci, e, 1); // \" \\ \/
      }
      const size = utf8Size(cp);
      if (cap - out < size) return out - at;
      out = writeCodePoint(into, out, cp, size);
      raw = out;
      i += length; // may pass the chunk's end: the next chunk then starts inside it
    }
    g = base + i;
    if (g < end && i >= chunk.length) ci = body.locate(g);
  }
  return out - at;
}

export function utf8Size(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Writes code point `cp` as its `size` UTF-8 bytes at `out`; returns the index after them. */
export function writeCodePoint(into: Uint8Array, out: number, cp: number, size: number): number {
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
  return out;
}

/**
 * `into` is full at `out` and the text goes on at body offset `next`: when that byte continues a character, the
 * character's first bytes (copied as they stood, after `raw`) are dropped, as encodeInto would not write them.
 */
function wholeCharacters(body: ChunkList, next: number, into: Uint8Array, out: number, raw: number): number {
  if ((body.byteAt(next) & 0xc0) !== UTF8_CONTINUATION) return out;
  while (out > raw && ((into[out - 1] as number) & 0xc0) === UTF8_CONTINUATION) out--;
  return out > raw ? out - 1 : out;
}
