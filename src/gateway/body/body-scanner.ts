// Reads what routing needs from a JSON request body while its chunks arrive: one pass over the bytes, no string
// of the whole body, no parse tree beyond the prompt's structure (its strings stay byte ranges of the chunks).
import { BodyText, ChunkList, DecodeArena, utf8Size, writeCodePoint } from './body-text.js';

/** What the scan found in a body that is a JSON object with a string `model`. */
export interface ScannedBody {
  readonly model: string;
  readonly stream: boolean;
  /** `max_tokens` / `max_completion_tokens` / `max_output_tokens`, when given (positive integer). */
  readonly maxTokens: number | undefined;
  /**
   * The prompt's part of the body for the prefix hasher: `prompt`, `messages`, `input`, `instructions` as parsed
   * values whose strings are {@link BodyText} ranges, and `model` / `cache_salt` as strings.
   */
  readonly prompt: Readonly<Record<string, unknown>>;
  /** Byte range of the top-level `model` value, quotes included (the last one, as JSON.parse reads duplicates). */
  readonly modelRange: { readonly start: number; readonly end: number };
  /**
   * Gives the prompt's decoded bytes back to their pool: call it once the prompt is hashed. The prompt stays
   * readable (its strings are decoded again from the body), only slower.
   */
  readonly release: () => void;
}

export type BodyScanResult = { readonly ok: true; readonly body: ScannedBody } | { readonly ok: false; readonly message: string };

/** Top-level members kept as values; everything else is only checked to be well-formed JSON. */
const PROMPT_KEYS: ReadonlySet<string> = new Set(['prompt', 'messages', 'input', 'instructions']);
const SCALAR_KEYS: ReadonlySet<string> = new Set(['model', 'cache_salt', 'stream', 'max_tokens', 'max_completion_tokens', 'max_output_tokens']);
/** Deeper bodies are refused: no OpenAI-style request nests anywhere near this. */
export const MAX_JSON_DEPTH = 256;

// Scanner states.
const VALUE = 0; // a value must come
const VALUE_OR_CLOSE = 1; // just after '[': a value or ']'
const KEY_OR_CLOSE = 2; // just after '{': a key or '}'
const KEY = 3; // after ',' in an object
const COLON = 4;
const AFTER_VALUE = 5; // ',' or the container's close
const IN_STRING = 6;
const IN_ESCAPE = 7; // just after a backslash
const IN_UNICODE = 8; // inside \uXXXX
const IN_NUMBER = 9;
const IN_LITERAL = 10;
const DONE = 11; // the top-level value ended: only whitespace may follow
const FAILED = 12;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LITERALS: Record<number, { readonly text: string; readonly value: boolean | null }> = {
  0x74: { text: 'true', value: true },
  0x66: { text: 'false', value: false },
  0x6e: { text: 'null', value: null },
};
const NUMBER_SYNTAX = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function isNumberByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 || b === 0x45;
}

/** What each simple escape's letter decodes to (-1: not one; `u` takes the state machine). */
const SIMPLE_ESCAPES = new Int16Array(256).fill(-1);
for (const [letter, byte] of [['"', 0x22], ['\\', 0x5c], ['/', 0x2f], ['b', 0x08], ['f', 0x0c], ['n', 0x0a], ['r', 0x0d], ['t', 0x09]] as const) {
  SIMPLE_ESCAPES[letter.charCodeAt(0)] = byte;
}
const QUOTES = 0x22222222;
const BACKSLASHES = 0x5c5c5c5c;

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x66);
}

type Holder = Record<string, unknown> | unknown[];

interface Frame {
  readonly isObject: boolean;
  /** Where member values go; undefined for containers nobody reads (only checked). */
  readonly holder: Holder | undefined;
  readonly isTop: boolean;
  /** The current member's name, when the frame keeps values. */
  key: string | undefined;
}

/**
 * Push parser: `write` each chunk as it arrives, then `end`. Work is O(bytes) but light per byte: string contents,
 * which are nearly all of a long body, are skipped with native searches for the next quote and backslash; only
 * escapes, structure, numbers and literals are looked at byte by byte. The body is checked to be well-formed JSON
 * throughout (structure, escapes, numbers, literals, nothing after the value) with one leniency: raw control
 * characters inside strings are not looked for (JSON.parse refuses them; the model server will).
 * A string split across chunks, even inside a UTF-8 character or an escape, needs nothing special: strings are
 * byte ranges of the whole body.
 */
export class BodyScanner {
  readonly body = new ChunkList();
  private state = VALUE;
  private readonly stack: Frame[] = [];
  private top: Record<string, unknown> | undefined;
  private topKind = '';
  private error: string | undefined;
  // The token in progress.
  private tokenStart = 0;
  private tokenIsKey = false;
  private tokenWanted = false;
  private escaped = false;
  private hexLeft = 0;
  private literal: { readonly text: string; readonly value: boolean | null } | undefined;
  private literalAt = 0;
  private numberParts: string[] = [];
  // Positions of the next quote and backslash in the current chunk (chunk length when none), found natively.
  private nextQuote = -1;
  private nextBackslash = -1;
  // A kept value string is decoded into `arena` while it is scanned (see decodeRun).
  private decoding = false;
  private arena: DecodeArena | undefined;
  private decodeFrom = 0;
  /** A \u high surrogate waiting for its low half (0: none). */
  private pendingHigh = 0;
  /** Body offset of the backslash of the escape the state machine is reading. */
  private escapeAt = 0;
  private chunkView: DataView | undefined;

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const base = this.body.length;
    this.body.push(chunk);
    if (this.state === FAILED) return;
    this.nextQuote = -1;
    this.nextBackslash = -1;
    this.chunkView = undefined;
    this.scan(chunk, base);
  }

  end(): BodyScanResult {
    if (this.body.length === 0) return { ok: false, message: 'request body is empty; expected a JSON object with "model"' };
    if (this.state === IN_NUMBER) this.finishNumber();
    if (this.state !== DONE && this.state !== FAILED) this.fail('unexpected end of body', this.body.length);
    if (this.error !== undefined) return { ok: false, message: this.error };
    if (this.topKind !== 'object' || this.top === undefined) return { ok: false, message: 'request body must be a JSON object' };
    const top = this.top;
    const model = top.model;
    if (!(model instanceof BodyText) || model.byteLength === 0) {
      return { ok: false, message: 'request body is missing "model" (a non-empty string)' };
    }
    const prompt: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const key of PROMPT_KEYS) if (key in top) prompt[key] = top[key];
    const modelName = model.toString();
    prompt.model = modelName;
    if (top.cache_salt instanceof BodyText) prompt.cache_salt = top.cache_salt.toString();
    return {
      ok: true,
      body: {
        model: modelName,
        stream: top.stream === true,
        maxTokens: positiveInt(top.max_tokens) ?? positiveInt(top.max_completion_tokens) ?? positiveInt(top.max_output_tokens),
        prompt,
        modelRange: { start: model.start - 1, end: model.end + 1 },
        release: () => this.arena?.release(),
      },
    };
  }

  private fail(what: string, at: number): void {
    this.error = `request body is not valid JSON: ${what} at byte ${at}`;
    this.state = FAILED;
    this.arena?.release();
  }

  private scan(chunk: Buffer, base: number): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case FAILED:
          return;
        case IN_STRING: {
          if (this.decoding) {
            i = this.decodeRun(chunk, base, i);
            break;
          }
          if (this.nextQuote < i) this.nextQuote = indexOrEnd(chunk, QUOTE, i);
          if (this.nextBackslash < i) this.nextBackslash = indexOrEnd(chunk, BACKSLASH, i);
          if (this.nextBackslash < this.nextQuote) {
            this.escaped = true;
            this.state = IN_ESCAPE;
            i = this.nextBackslash + 1;
          } else if (this.nextQuote < n) {
            i = this.nextQuote + 1;
            this.finishString(base + this.nextQuote);
          } else {
            i = n;
          }
          break;
        }
        case IN_ESCAPE: {
          const b = chunk[i] as number;
          if (b === 0x75) {
            this.state = IN_UNICODE;
            this.hexLeft = 4;
          } else if ((SIMPLE_ESCAPES[b] as number) >= 0) {
            this.state = IN_STRING;
            if (this.decoding) this.emit(SIMPLE_ESCAPES[b] as number);
          } else {
            return this.fail('invalid escape in a string', base + i);
          }
          i++;
          break;
        }
        case IN_UNICODE: {
          if (!isHex(chunk[i] as number)) return this.fail('invalid \\u escape', base + i);
          i++;
          if (--this.hexLeft === 0) {
            this.state = IN_STRING;
            if (this.decoding) this.emitUnicode();
          }
          break;
        }
        case IN_NUMBER: {
          const from = i;
          while (i < n && isNumberByte(chunk[i] as number)) i++;
          this.numberParts.push(chunk.toString('latin1', from, i));
          if (i < n) this.finishNumber();
          break;
        }
        case IN_LITERAL: {
          const lit = this.literal as { readonly text: string; readonly value: boolean | null };
          if (chunk[i] !== lit.text.charCodeAt(this.literalAt)) return this.fail('invalid literal', base + i);
          i++;
          if (++this.literalAt === lit.text.length) this.valueDone(lit.value);
          break;
        }
        default: {
          const b = chunk[i] as number;
          if (isSpace(b)) {
            i++;
            break;
          }
          if (!this.structural(b, base + i)) return;
          // A number's first byte is read again as part of it.
          if (this.state !== IN_NUMBER) i++;
        }
      }
    }
  }

  /** One structural byte (not whitespace) in states VALUE..AFTER_VALUE and DONE; false when it is an error. */
  private structural(b: number, at: number): boolean {
    switch (this.state) {
      case VALUE_OR_CLOSE:
      case VALUE:
        if (b === 0x5d && this.state === VALUE_OR_CLOSE) return this.close(false, at);
        return this.startValue(b, at);
      case KEY_OR_CLOSE:
      case KEY:
        if (b === 0x7d && this.state === KEY_OR_CLOSE) return this.close(true, at);
        if (b !== QUOTE) return this.failed('expected a member name', at);
        this.startString(at, true);
        return true;
      case COLON:
        if (b !== 0x3a) return this.failed("expected ':'", at);
        this.state = VALUE;
        return true;
      case AFTER_VALUE: {
        const frame = this.stack[this.stack.length - 1] as Frame;
        if (b === 0x2c) {
          this.state = frame.isObject ? KEY : VALUE;
          return true;
        }
        if (b === 0x7d && frame.isObject) return this.close(true, at);
        if (b === 0x5d && !frame.isObject) return this.close(false, at);
        return this.failed(frame.isObject ? "expected ',' or '}'" : "expected ',' or ']'", at);
      }
      default:
        return this.failed('unexpected data after the JSON value', at);
    }
  }

  private failed(what: string, at: number): false {
    this.fail(what, at);
    return false;
  }

  /** Whether the value starting now is kept: inside a kept container, or a top-level member we read. */
  private wanted(): boolean {
    const frame = this.stack[this.stack.length - 1];
    if (frame === undefined || frame.holder === undefined) return false;
    if (!frame.isTop) return true;
    const key = frame.key ?? '';
    return PROMPT_KEYS.has(key) || SCALAR_KEYS.has(key);
  }

  private startValue(b: number, at: number): boolean {
    if (b === QUOTE) {
      this.startString(at, false);
      return true;
    }
    if (b === 0x7b || b === 0x5b) {
      const isObject = b === 0x7b;
      if (this.stack.length >= MAX_JSON_DEPTH) return this.failed(`nesting deeper than ${MAX_JSON_DEPTH}`, at);
      const isTop = this.stack.length === 0;
      if (isTop) this.topKind = isObject ? 'object' : 'array';
      let holder: Holder | undefined;
      if (isTop) holder = isObject ? (this.top = Object.create(null) as Record<string, unknown>) : undefined;
      else if (this.wanted()) holder = isObject ? (Object.create(null) as Record<string, unknown>) : [];
      this.stack.push({ isObject, holder, isTop, key: undefined });
      this.state = isObject ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
      return true;
    }
    if (b === 0x2d || (b >= 0x30 && b <= 0x39)) {
      if (this.stack.length === 0) this.topKind = 'number';
      this.tokenStart = at;
      this.numberParts = [];
      this.state = IN_NUMBER;
      return true;
    }
    const literal = LITERALS[b];
    if (literal === undefined) return this.failed('unexpected character', at);
    if (this.stack.length === 0) this.topKind = 'literal';
    this.literal = literal;
    this.literalAt = 1;
    this.state = IN_LITERAL;
    return true;
  }

  private startString(at: number, isKey: boolean): void {
    if (this.stack.length === 0) this.topKind = 'string';
    this.tokenStart = at + 1;
    this.tokenIsKey = isKey;
    this.tokenWanted = isKey ? (this.stack[this.stack.length - 1] as Frame).holder !== undefined : this.wanted();
    this.escaped = false;
    this.state = IN_STRING;
    this.decoding = !isKey && this.tokenWanted && this.startDecoding();
  }

  private startDecoding(): boolean {
    const arena = (this.arena ??= new DecodeArena());
    if (!arena.reserve(0)) return false;
    this.decodeFrom = arena.used;
    this.pendingHigh = 0;
    return true;
  }

  /** Goes on with the current string as an escaped range of the body (the arena is full, or released). */
  private stopDecoding(): void {
    this.decoding = false;
    this.pendingHigh = 0;
    if (this.arena !== undefined) this.arena.used = this.decodeFrom;
  }

  /**
   * Decodes the string's bytes from `chunk[i]` into the arena until the string ends, an escape needs the state
   * machine (`\u`, an invalid one, one cut by the chunk's end) or the chunk ends; returns where the scan goes on.
   * Moves four bytes at a time while no quote or backslash is among them, and decodes the other escapes in line:
   * one pass over the prompt, where a native search for the string's end and a decode at hashing time made two.
   */
  private decodeRun(chunk: Buffer, base: number, i: number): number {
    const n = chunk.length;
    const arena = this.arena as DecodeArena;
    // Decoded text is never longer than its JSON form, but for a waiting high surrogate's U+FFFD.
    if (!arena.reserve(n - i + 4)) {
      this.stopDecoding();
      return i;
    }
    const out = arena.buf as Uint8Array;
    const dst = arena.view;
    const src = (this.chunkView ??= new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    let o = arena.used;
    if (this.pendingHigh !== 0 && i < n && chunk[i] !== BACKSLASH) o = this.flushHigh(out, o);
    for (;;) {
      while (i + 4 <= n) {
        const v = src.getUint32(i, true);
        const q = v ^ QUOTES;
        const b = v ^ BACKSLASHES;
        // SWAR: a zero byte in v ^ c means byte c in v (exact).
        if ((((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b)) & 0x80808080) break;
        dst.setUint32(o, v, true);
        i += 4;
        o += 4;
      }
      if (i >= n) break;
      const c = chunk[i] as number;
      if (c === QUOTE) {
        arena.used = this.pendingHigh !== 0 ? this.flushHigh(out, o) : o;
        this.finishString(base + i);
        return i + 1;
      }
      if (c !== BACKSLASH) {
        out[o++] = c;
        i++;
        continue;
      }
      this.escaped = true;
      const decoded = i + 1 < n ? (SIMPLE_ESCAPES[chunk[i + 1] as number] as number) : -1;
      if (decoded < 0) {
        arena.used = o;
        this.escapeAt = base + i;
        this.state = IN_ESCAPE;
        return i + 1;
      }
      if (this.pendingHigh !== 0) o = this.flushHigh(out, o);
      out[o++] = decoded;
      i += 2;
    }
    arena.used = o;
    return i;
  }

  /** A waiting high surrogate with no low half after it: U+FFFD, as TextEncoder writes it. */
  private flushHigh(out: Uint8Array, o: number): number {
    this.pendingHigh = 0;
    return writeCodePoint(out, o, 0xfffd, 3);
  }

  /** Appends one code point decoded by the state machine (room for 4 bytes was reserved or is made). */
  private emit(cp: number): void {
    const arena = this.arena as DecodeArena;
    if (!arena.reserve(7)) return this.stopDecoding();
    let o = arena.used;
    if (this.pendingHigh !== 0) o = this.flushHigh(arena.buf as Uint8Array, o);
    arena.used = writeCodePoint(arena.buf as Uint8Array, o, cp, utf8Size(cp));
  }

  /** A \u escape just ended: a high surrogate waits for a low one right after it; a lone one becomes U+FFFD. */
  private emitUnicode(): void {
    let cp = 0;
    for (let k = 2; k < 6; k++) {
      const c = this.body.byteAt(this.escapeAt + k);
      cp = cp * 16 + (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
    }
    const high = this.pendingHigh;
    if (high !== 0 && cp >= 0xdc00 && cp <= 0xdfff) {
      this.pendingHigh = 0;
      return this.emit(0x10000 + ((high - 0xd800) << 10) + (cp - 0xdc00));
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
      // Another high one: the earlier stays alone (U+FFFD), this one waits.
      if (high !== 0) {
        const arena = this.arena as DecodeArena;
        if (!arena.reserve(3)) return this.stopDecoding();
        arena.used = this.flushHigh(arena.buf as Uint8Array, arena.used);
      }
      this.pendingHigh = cp;
      return;
    }
    this.emit(cp >= 0xdc00 && cp <= 0xdfff ? 0xfffd : cp); // a waiting high one is written first, alone
  }

  private finishString(end: number): void {
    const text = !this.tokenWanted
      ? undefined
      : this.decoding
        ? new BodyText(this.body, this.tokenStart, end, this.escaped, this.arena, this.decodeFrom, (this.arena as DecodeArena).used)
        : new BodyText(this.body, this.tokenStart, end, this.escaped);
    this.decoding = false;
    if (this.tokenIsKey) {
      const frame = this.stack[this.stack.length - 1] as Frame;
      frame.key = text?.toString();
      this.state = COLON;
      return;
    }
    this.valueDone(text);
  }

  private finishNumber(): void {
    const text = this.numberParts.length === 1 ? (this.numberParts[0] as string) : this.numberParts.join('');
    this.numberParts = [];
    if (!NUMBER_SYNTAX.test(text)) return this.fail('invalid number', this.tokenStart);
    this.valueDone(Number(text));
  }

  private close(isObject: boolean, at: number): boolean {
    const frame = this.stack.pop();
    if (frame === undefined || frame.isObject !== isObject) return this.failed('mismatched bracket', at);
    this.valueDone(frame.holder);
    return true;
  }

  /** A value ended: store it where it belongs (when kept), then expect what follows a value. */
  private valueDone(value: unknown): void {
    const frame = this.stack[this.stack.length - 1];
    if (frame === undefined) {
      this.state = DONE;
      return;
    }
    const holder = frame.holder;
    if (holder !== undefined && value !== undefined) {
      if (Array.isArray(holder)) holder.push(value);
      else if (!frame.isTop || PROMPT_KEYS.has(frame.key ?? '') || SCALAR_KEYS.has(frame.key ?? '')) holder[frame.key ?? ''] = value;
    }
    this.state = AFTER_VALUE;
  }
}

function indexOrEnd(chunk: Buffer, byte: number, from: number): number {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? chunk.length : at;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}
