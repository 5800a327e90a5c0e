// Prometheus text exposition parser (format 0.0.4), lenient by design: a bad line is counted and skipped,
// never thrown, because a half-broken /metrics page must degrade one endpoint, not the request path.

/** One sample line: `name{labels} value [timestamp]`. */
export interface PromSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedMetrics {
  /** Samples keyed by sample name (histogram parts keep their `_bucket`/`_sum`/`_count` suffix). */
  readonly samples: ReadonlyMap<string, readonly PromSample[]>;
  /** Lines that were neither blank, comments, nor valid samples. */
  readonly invalidLines: number;
}

export interface ParseOptions {
  /**
   * Sample names to keep; every other line is skipped after reading its name, without parsing labels.
   * A scrape needs a handful of families out of hundreds of histogram lines, so this is the main saving.
   * @default undefined (keep everything)
   */
  readonly only?: ReadonlySet<string>;
}

const NEWLINE = 10;
const SPACE = 32;
const TAB = 9;
const CR = 13;
const HASH = 35;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const QUOTE = 34;
const BACKSLASH = 92;
const EQUALS = 61;
const COMMA = 44;
const DOT = 46;

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Parses a whole page. O(length of text); one pass with `charCodeAt` and no regular expressions, so the cost
 * per skipped line is a scan to its end.
 */
export function parsePrometheusText(text: string, options: ParseOptions = {}): ParsedMetrics {
  const only = options.only;
  const samples = new Map<string, PromSample[]>();
  let invalidLines = 0;
  let pos = 0;
  const length = text.length;
  while (pos < length) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = length;
    const lineEnd = end > pos && text.charCodeAt(end - 1) === CR ? end - 1 : end;
    const start = skipBlanks(text, pos, lineEnd);
    if (start < lineEnd && text.charCodeAt(start) !== HASH) {
      const nameEnd = scanName(text, start, lineEnd);
      if (nameEnd === start) {
        invalidLines++;
      } else {
        const name = text.slice(start, nameEnd);
        if (only === undefined || only.has(name)) {
          const sample = parseSampleRest(text, nameEnd, lineEnd);
          if (sample === undefined) {
            invalidLines++;
          } else {
            const list = samples.get(name);
            if (list === undefined) samples.set(name, [sample]);
            else list.push(sample);
          }
        }
      }
    }
    pos = end + 1;
  }
  return { samples, invalidLines };
}

/**
 * Parses one sample line (no line break; a trailing CR is ignored) into its sample name and sample, or
 * undefined when it is not a valid sample line. The streaming page parser hands it only the lines it keeps.
 */
export function parseSampleLine(line: string): { readonly name: string; readonly sample: PromSample } | undefined {
  const end = line.length > 0 && line.charCodeAt(line.length - 1) === CR ? line.length - 1 : line.length;
  const start = skipBlanks(line, 0, end);
  const nameEnd = scanName(line, start, end);
  if (nameEnd === start) return undefined;
  const sample = parseSampleRest(line, nameEnd, end);
  return sample === undefined ? undefined : { name: line.slice(start, nameEnd), sample };
}

function skipBlanks(text: string, pos: number, end: number): number {
  let p = pos;
  while (p < end) {
    const c = text.charCodeAt(p);
    if (c !== SPACE && c !== TAB) break;
    p++;
  }
  return p;
}

/** Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. Returns the index after the name. */
function scanName(text: string, pos: number, end: number): number {
  let p = pos;
  while (p < end) {
    const c = text.charCodeAt(p);
    const isAlpha = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
    const isDigit = c >= 48 && c <= 57;
    if (!(isAlpha || (isDigit && p > pos))) break;
    p++;
  }
  return p;
}

/** Parses `{labels} value [timestamp]` starting right after the name; undefined when malformed. */
function parseSampleRest(text: string, pos: number, end: number): PromSample | undefined {
  let p = skipBlanks(text, pos, end);
  let labels = EMPTY_LABELS;
  if (p < end && text.charCodeAt(p) === OPEN_BRACE) {
    const parsed = parseLabels(text, p + 1, end);
    if (parsed === undefined) return undefined;
    labels = parsed.labels;
    p = skipBlanks(text, parsed.next, end);
  } else if (p === pos) {
    return undefined; // the name must be followed by `{` or a blank
  }
  const value = parseValueAt(text, p, end);
  return value === undefined ? undefined : { labels, value };
}

/**
 * The value of a sample line from what follows its name and labels (`text`; a trailing CR is ignored): blanks,
 * the value, an optional timestamp; undefined when malformed. `afterName`: nothing but the name precedes, so a
 * blank must come first. What parseSampleLine reads there, for a reader that already has the line's labels.
 */
export function parseSampleTail(text: string, afterName: boolean): number | undefined {
  const end = text.length > 0 && text.charCodeAt(text.length - 1) === CR ? text.length - 1 : text.length;
  const p = skipBlanks(text, 0, end);
  if (afterName && p === 0) return undefined;
  return parseValueAt(text, p, end);
}

/** 10^k for k <= MAX_PLAIN_DIGITS: all exact doubles. */
const POWERS_OF_TEN: readonly number[] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
/** Digits of a plain value read from bytes at most: below 2^53, so the digits make an exact integer. */
const MAX_PLAIN_DIGITS = 15;

/**
 * The value of a sample line's tail, `buf[from, end)` (as parseSampleTail takes it, the CR already off), when it
 * is blanks and a plain unsigned decimal (`17`, `0.4375`; at most 15 digits) reaching the line's end; -1 for
 * anything else, which the caller decodes and parses with parseSampleTail (signs, exponents, NaN, timestamps,
 * trailing blanks, malformed values). No string is made: a moved gauge's value is read straight off the bytes.
 * Equal to parseSampleTail's result wherever it answers: the digits make an exact integer m and 10^k is exact,
 * so m / 10^k is one correctly rounded division, the double nearest the decimal, which is what Number() returns.
 */
export function plainTailValue(buf: Uint8Array, from: number, end: number, afterName: boolean): number {
  let p = from;
  while (p < end && (buf[p] === SPACE || buf[p] === TAB)) p++;
  if ((afterName && p === from) || p === end) return -1;
  let mantissa = 0;
  let digits = 0;
  let fraction = -1;
  for (; p < end; p++) {
    const c = buf[p] ?? 0;
    if (c >= 48 && c <= 57) {
      if (++digits > MAX_PLAIN_DIGITS) return -1;
      mantissa = mantissa * 10 + (c - 48);
      if (fraction >= 0) fraction++;
    } else if (c === DOT && fraction < 0 && digits > 0) {
      fraction = 0;
    } else {
      return -1;
    }
  }
  if (fraction === 0) return -1; // `5.`: left to Number()
  return fraction > 0 ? mantissa / (POWERS_OF_TEN[fraction] ?? 1) : mantissa;
}

/** The value starting at `p` and an optional integer timestamp after it, up to `end`. */
function parseValueAt(text: string, p: number, end: number): number | undefined {
  let valueEnd = p;
  while (valueEnd < end) {
    const c = text.charCodeAt(valueEnd);
    if (c === SPACE || c === TAB) break;
    valueEnd++;
  }
  if (valueEnd === p) return undefined;
  const value = parseValue(text.slice(p, valueEnd));
  if (value === undefined) return undefined;
  // An optional integer timestamp may follow; anything else after the value makes the line invalid.
  const rest = skipBlanks(text, valueEnd, end);
  if (rest < end && !/^-?\d+\s*$/.test(text.slice(rest, end))) return undefined;
  return value;
}

function parseLabels(
  text: string,
  pos: number,
  end: number,
): { labels: Readonly<Record<string, string>>; next: number } | undefined {
  const labels: Record<string, string> = {};
  let p = skipBlanks(text, pos, end);
  for (;;) {
    if (p >= end) return undefined;
    if (text.charCodeAt(p) === CLOSE_BRACE) return { labels, next: p + 1 };
    const nameEnd = scanName(text, p, end);
    if (nameEnd === p) return undefined;
    const name = text.slice(p, nameEnd);
    p = skipBlanks(text, nameEnd, end);
    if (text.charCodeAt(p) !== EQUALS) return undefined;
    p = skipBlanks(text, p + 1, end);
    if (text.charCodeAt(p) !== QUOTE) return undefined;
    const value = parseQuoted(text, p + 1, end);
    if (value === undefined) return undefined;
    labels[name] = value.value;
    p = skipBlanks(text, value.next, end);
    const c = text.charCodeAt(p);
    if (c === COMMA) p = skipBlanks(text, p + 1, end);
    else if (c !== CLOSE_BRACE) return undefined;
  }
}

/** A quoted label value with `\\`, `\"` and `\n` escapes; `pos` is just after the opening quote. */
function parseQuoted(text: string, pos: number, end: number): { value: string; next: number } | undefined {
  let p = pos;
  let chunkStart = pos;
  let out = '';
  while (p < end) {
    const c = text.charCodeAt(p);
    if (c === QUOTE) return { value: out + text.slice(chunkStart, p), next: p + 1 };
    if (c === BACKSLASH) {
      if (p + 1 >= end) return undefined;
      out += text.slice(chunkStart, p);
      const escaped = text.charCodeAt(p + 1);
      out += escaped === 110 ? '\n' : String.fromCharCode(escaped);
      p += 2;
      chunkStart = p;
      continue;
    }
    if (c === NEWLINE) return undefined;
    p++;
  }
  return undefined;
}

/** Go-style float: decimal/exponent forms plus `NaN`, `+Inf`, `-Inf`. NaN is a value here; callers judge it. */
function parseValue(raw: string): number | undefined {
  switch (raw) {
    case 'NaN':
      return Number.NaN;
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
    default: {
      const n = Number(raw);
      return Number.isNaN(n) ? undefined : n;
    }
  }
}
