// Streaming metrics-page reader: takes a /metrics body chunk by chunk as it comes off the socket (no whole-text
// string, no concatenation), keeps only the sample lines of the families in use, and says when it has read
// enough. A vLLM page is ~40 KB of which a scrape needs about ten lines; decoding and splitting all of it was
// most of a scrape's cost.
import { type ParsedMetrics, type PromSample, parseSampleLine, parseSampleTail, plainTailValue } from './prometheus-text.js';

/** @default 256 KiB: a LoRA info line with many adapters is long, a line past this is not metrics. */
export const DEFAULT_MAX_LINE_BYTES = 256 * 1024;

/**
 * What a page held. The reader's own, reused from page to page: valid until its next `begin` (copy what must
 * outlive that); its maps and lists are not to be changed.
 */
export interface PageReadResult extends ParsedMetrics {
  /** Kept samples by sample name: the names with at least one valid sample line on this page. */
  readonly samples: ReadonlyMap<string, readonly PromSample[]>;
  /** Names that were wanted and had at least one valid sample line. */
  readonly found: ReadonlySet<string>;
  /** True when reading stopped before the end of the page (every expected family was complete). */
  readonly stoppedEarly: boolean;
  /** Wanted lines that did not parse (e.g. a value that is not a number). */
  readonly badWantedLines: number;
  /** `name: type` for each wanted family declared (`# TYPE`) as something a gauge reading cannot use. */
  readonly wrongTypes: readonly string[];
}

export interface MetricsPageReaderOptions {
  /** Sample names to keep (the keep-list of the engine's metric mapping). */
  readonly wanted: ReadonlySet<string>;
  /** @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
}

const NEWLINE = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const HASH = 35;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const LETTER_T = 84;
const UNSEARCHED = -2;
/** Operands from this length on are compared natively (see prefixAt). */
const NATIVE_COMPARE_BYTES = 64;
/** Seeking (see `seek`) only when at least this much of the chunk is left to read. */
const SEEK_MIN_BYTES = 2048;
/** Kept-line arrays longer than this are emptied between pages rather than reused. */
const MAX_REUSED_LINES = 64;
/**
 * How far before the previous page's position of a family a hinted search starts: the page before it may have
 * shrunk this much (a counter's digits, a histogram reset) and the hint still lands in one short search.
 */
const HINT_SLACK_BYTES = 1024;
const TYPE_PREFIX = Buffer.from('# TYPE ');
const GAUGE = Buffer.from('gauge');
/** Types whose samples carry a single current value under the family's own name. */
const READABLE_TYPES: ReadonlySet<string> = new Set(['gauge', 'counter', 'untyped', 'unknown']);

/**
 * One reader per endpoint, reused for every scrape (`begin` resets it); not re-entrant, which the scraper's
 * no-overlap rule guarantees.
 *
 * Cost: O(lines) native `indexOf` calls to find line ends, plus O(wanted names) byte comparisons at each line
 * start; only kept lines are decoded to strings. Early stop relies on the exposition format's rule that a
 * family's lines are contiguous: once every expected family has been seen and a sample line of another family
 * follows, nothing more of interest can come.
 */
export class MetricsPageReader {
  private readonly names: readonly string[];
  private readonly bytes: readonly Buffer[];
  /** `\n` + name: a name at the start of a line (label values cannot hold a raw newline). */
  private readonly needles: readonly Buffer[];
  private readonly firsts: readonly number[];
  private readonly lasts: readonly number[];
  private readonly maxLineBytes: number;
  private expect: readonly boolean[] | undefined;
  /** The last `stopAfter` given to begin() and its flags per wanted name. */
  private stopAfter: ReadonlySet<string> | undefined;
  private expectFor: readonly boolean[] = [];
  private expectCount = 0;
  private remaining = 0;
  /**
   * The result's maps, kept from page to page: entries are added and removed only when a family appears on or
   * goes from a page (see `finish`), so a page of the same families allocates no map, set or list.
   */
  private readonly samples = new Map<string, PromSample[]>();
  private readonly found = new Set<string>();
  /** Per wanted name: this page's samples, entries `[0, keptCount)` (the list `samples` holds for the name). */
  private readonly lists: PromSample[][];
  /** Per wanted name: whether `samples` and `found` hold it (as of the last `finish`). */
  private readonly listed: boolean[];
  private invalidLines = 0;
  private badWantedLines = 0;
  private readonly wrongTypes: string[] = [];
  private readonly result: { -readonly [K in keyof PageReadResult]: PageReadResult[K] };
  private carry: Buffer | undefined;
  private skippingLine = false;
  private done = false;
  /** The last sample line read belonged to an expected family (its next lines may too: no seeking). */
  private inExpected = false;
  private linesRead = 0;
  /** Per wanted name: where its needle was found in `hitsChunk` (-1: nowhere after the search start). */
  private readonly hits: number[];
  private hitsChunk: Buffer | undefined;
  /** Page offset of the current chunk's first byte. */
  private chunkBase = 0;
  /** Page offset of the carried (cut) line's first byte. */
  private carryBase = 0;
  /**
   * Per wanted name: the page offset of the newline before its family's first sample line in the last page that
   * had it. Seeking searches from just before it first (see `seek`); -1: not known.
   */
  private readonly lastAt: number[];
  /**
   * Per wanted name: the lines kept of this page and of the last one, with what they parsed to, in page order.
   * A line byte-equal to the last page's line at the same place is not decoded or parsed again: a model
   * server's LoRA info line and, between changes, its gauges repeat from scrape to scrape. The arrays are
   * reused (overwritten up to their counts) rather than emptied: setting an array's length is a runtime call. A
   * line's record is rewritten in place when the line changed (its bytes copied into the record's own buffer), so
   * a gauge that moves on every page costs its new sample only.
   */
  private kept: KeptLine[][];
  private lastKept: KeptLine[][];
  private keptCount: number[];
  private lastKeptCount: number[];

  constructor(options: MetricsPageReaderOptions) {
    const table = nameTable(options.wanted);
    this.names = table.names;
    this.bytes = table.bytes;
    this.needles = table.needles;
    this.firsts = table.firsts;
    this.lasts = table.lasts;
    this.hits = this.names.map(() => UNSEARCHED);
    this.lastAt = this.names.map(() => -1);
    this.kept = this.names.map(() => []);
    this.lastKept = this.names.map(() => []);
    this.keptCount = this.names.map(() => 0);
    this.lastKeptCount = this.names.map(() => 0);
    this.lists = this.names.map(() => []);
    this.listed = this.names.map(() => false);
    this.result = {
      samples: this.samples,
      invalidLines: 0,
      found: this.found,
      stoppedEarly: false,
      badWantedLines: 0,
      wrongTypes: this.wrongTypes,
    };
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /**
   * Starts a page. With `stopAfter` (a subset of the wanted names), reading ends once all of them have been
   * read and another family begins; without it the whole page is read.
   */
  begin(stopAfter?: ReadonlySet<string>): void {
    this.invalidLines = 0;
    this.badWantedLines = 0;
    if (this.wrongTypes.length > 0) this.wrongTypes.length = 0;
    this.carry = undefined;
    this.skippingLine = false;
    this.done = false;
    this.inExpected = false;
    this.linesRead = 0;
    this.hitsChunk = undefined;
    this.chunkBase = 0;
    this.expect = undefined;
    this.remaining = 0;
    // This page's kept lines become the last page's; the older arrays are reused from their start.
    const older = this.lastKept;
    const olderCount = this.lastKeptCount;
    this.lastKept = this.kept;
    this.lastKeptCount = this.keptCount;
    this.kept = older;
    this.keptCount = olderCount;
    for (let i = 0; i < olderCount.length; i++) {
      // An unusually long family (a page with many ranks, say) is not held on to past the next page.
      if ((olderCount[i] ?? 0) > MAX_REUSED_LINES) (older[i] ?? []).length = 0;
      olderCount[i] = 0;
    }
    if (stopAfter !== undefined && stopAfter.size > 0) {
      // The scraper passes the same set until its next whole-page read: its flags are worked out once.
      if (stopAfter !== this.stopAfter) {
        this.stopAfter = stopAfter;
        this.expectFor = this.names.map((n) => stopAfter.has(n));
        this.expectCount = this.expectFor.filter(Boolean).length;
      }
      this.expect = this.expectFor;
      this.remaining = this.expectCount;
    }
  }

  /** Takes the next body chunk; returns false once the rest of the page is not needed. */
  push(chunk: Buffer): boolean {
    const more = this.read(chunk);
    this.chunkBase += chunk.length;
    return more;
  }

  private read(chunk: Buffer): boolean {
    if (this.done) return false;
    const length = chunk.length;
    let pos = 0;
    if (this.carry !== undefined || this.skippingLine) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl === -1) {
        this.appendCarry(chunk, 0, length);
        return true;
      }
      if (this.skippingLine) {
        this.skippingLine = false;
      } else if (this.carry !== undefined) {
        const line = Buffer.concat([this.carry, chunk.subarray(0, nl)]);
        this.carry = undefined;
        this.line(line, 0, line.length, this.carryBase);
        if (this.done) return false;
      }
      pos = nl + 1;
    }
    while (pos < length) {
      // Seeking needs the newline before `pos` in this chunk (it is part of the needle). Over a short rest (a page
      // filtered by name[] is ~1.4 KB, all of it wanted) a search per family costs more than reading the lines.
      if (pos > 0 && length - pos >= SEEK_MIN_BYTES && this.canSeek()) {
        const hit = this.seek(chunk, pos - 1);
        if (hit === -1) {
          // No expected family starts in this chunk's complete lines. One whose name is cut by the chunk's end
          // starts on its last, incomplete line: carried over and read line by line with the next chunk.
          const from = Math.max(pos, chunk.lastIndexOf(NEWLINE) + 1);
          if (from < length) this.appendCarry(chunk, from, length);
          return true;
        }
        pos = hit + 1;
      }
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl === -1) {
        this.appendCarry(chunk, pos, length);
        break;
      }
      this.line(chunk, pos, nl, this.chunkBase + pos);
      if (this.done) return false;
      pos = nl + 1;
    }
    return true;
  }

  /**
   * Between families, with expected families still to come: jump to the next line that starts one of them
   * instead of reading every line in between. One native search per remaining family per chunk, against a
   * JavaScript step per line: on a vLLM page with LoRA, whose LoRA info sits after ~350 histogram lines, this is
   * most of the reading saved. Only when stopping early (the page's layout is known from a whole-page read).
   */
  private canSeek(): boolean {
    return this.expect !== undefined && this.remaining > 0 && !this.inExpected && this.linesRead > 0;
  }

  /**
   * Index of the newline before the earliest line starting a not-yet-found expected family, or -1. Each name is
   * searched for at most once per chunk: a hit beyond `from` (or none at all) stays valid for later seeks in it.
   *
   * A native search runs at about 2-3 GB/s, so finding LoRA info at the end of a 40 KB vLLM page took ~15 us, a
   * third of a scrape's CPU. Pages keep their layout from scrape to scrape: the search first starts just before
   * where the family began on the last page, and its hit is taken when the line before it is not of the same
   * family (so it is the family's first line: a family's lines are contiguous). Otherwise, or when the hint is
   * not in this chunk, the whole chunk is searched as before.
   */
  private seek(chunk: Buffer, from: number): number {
    if (this.hitsChunk !== chunk) {
      this.hitsChunk = chunk;
      this.hits.fill(UNSEARCHED);
    }
    let best = -1;
    const expect = this.expect ?? [];
    for (let i = 0; i < this.needles.length; i++) {
      if (expect[i] !== true || (this.keptCount[i] ?? 0) > 0) continue;
      const needle = this.needles[i];
      if (needle === undefined) continue;
      let at = this.hits[i] ?? UNSEARCHED;
      if (at === UNSEARCHED || (at !== -1 && at < from)) {
        at = -1;
        const hinted = (this.lastAt[i] ?? -1) - this.chunkBase - HINT_SLACK_BYTES;
        if (hinted > from && hinted < chunk.length) {
          at = this.search(chunk, needle, hinted);
          if (at !== -1 && !this.startsFamily(chunk, at, i)) at = -1;
        }
        if (at === -1) at = this.search(chunk, needle, from);
        this.hits[i] = at;
      }
      if (at !== -1 && (best === -1 || at < best)) best = at;
    }
    return best;
  }

  /** The first `\n<name>` at or after `from` where the name ends (`{`, a blank or the line end), or -1. */
  private search(chunk: Buffer, needle: Buffer, from: number): number {
    let at = chunk.indexOf(needle, from);
    while (at !== -1 && at + needle.length < chunk.length && !endsName(chunk[at + needle.length])) {
      at = chunk.indexOf(needle, at + 1);
    }
    return at;
  }

  /** Whether the line ending at `nl` (a newline in `chunk`) is there and not a sample of wanted name `index`. */
  private startsFamily(chunk: Buffer, nl: number, index: number): boolean {
    if (nl === 0) return false;
    let start = chunk.lastIndexOf(NEWLINE, nl - 1) + 1;
    if (start === 0 && this.chunkBase > 0) return false; // the line before began in an earlier chunk: cannot tell
    while (start < nl && (chunk[start] === SPACE || chunk[start] === TAB)) start++;
    return this.match(chunk, start, nl) !== index;
  }

  /** Ends the page (a last line without a newline counts) and returns what was kept (valid until `begin`). */
  finish(): PageReadResult {
    if (this.carry !== undefined && !this.done) this.line(this.carry, 0, this.carry.length, this.carryBase);
    this.carry = undefined;
    for (let i = 0; i < this.names.length; i++) {
      const count = this.keptCount[i] ?? 0;
      const list = this.lists[i];
      if (list === undefined) continue;
      if (list.length > count) list.length = count;
      if ((count > 0) === this.listed[i]) continue;
      // A family appeared on or went from the page: the only changes to the maps.
      const name = this.names[i] ?? '';
      this.listed[i] = count > 0;
      if (count > 0) {
        this.samples.set(name, list);
        this.found.add(name);
      } else {
        this.samples.delete(name);
        this.found.delete(name);
      }
    }
    const result = this.result;
    result.invalidLines = this.invalidLines;
    result.stoppedEarly = this.done;
    result.badWantedLines = this.badWantedLines;
    return result;
  }

  private appendCarry(chunk: Buffer, from: number, to: number): void {
    if (this.skippingLine) return;
    const size = (this.carry?.length ?? 0) + (to - from);
    if (size > this.maxLineBytes) {
      this.carry = undefined;
      this.skippingLine = true;
      this.invalidLines++;
      return;
    }
    if (this.carry === undefined) this.carryBase = this.chunkBase + from;
    // Copied: the chunk's memory belongs to the HTTP client once push returns.
    this.carry = this.carry === undefined ? Buffer.from(chunk.subarray(from, to)) : Buffer.concat([this.carry, chunk.subarray(from, to)]);
  }

  /** One line of the page, `buf[start, lineEnd)`; `at`: the page offset of its first byte. */
  private line(buf: Buffer, start: number, lineEnd: number, at: number): void {
    this.linesRead++;
    let end = lineEnd;
    if (end > start && buf[end - 1] === CR) end--;
    let s = start;
    let c = buf[s];
    while ((c === SPACE || c === TAB) && s < end) c = buf[++s];
    if (s >= end) return;
    if (c === HASH) {
      // `# HELP` lines are as many as `# TYPE` ones: one byte tells them apart before the full comparison.
      if (buf[s + 2] === LETTER_T && end - s > TYPE_PREFIX.length && prefixAt(buf, s, TYPE_PREFIX, TYPE_PREFIX.length)) {
        this.typeLine(buf, s + TYPE_PREFIX.length, end);
      }
      return;
    }
    if (c === undefined || !isNameStart(c)) {
      this.invalidLines++;
      return;
    }
    const index = this.match(buf, s, end);
    // A sample of another family once every expected one has been read: the rest is of no interest.
    this.inExpected = index !== -1 && this.expect?.[index] === true;
    if (this.remaining === 0 && this.expect !== undefined && !this.inExpected) {
      this.done = true;
      return;
    }
    if (index === -1) return;
    const kept = this.kept[index];
    const list = this.lists[index];
    if (kept === undefined || list === undefined) return;
    const n = this.keptCount[index] ?? 0;
    const previous = n < (this.lastKeptCount[index] ?? 0) ? this.lastKept[index]?.[n] : undefined;
    let sample: PromSample;
    if (previous !== undefined && previous.length === end - s && prefixAt(buf, s, previous.bytes, previous.length)) {
      sample = previous.sample;
      kept[n] = previous;
    } else {
      // A gauge that moved: name and labels as on the last page, only the value differs. Its labels are the
      // last sample's (the same bytes parse to the same labels); only the value is decoded and parsed.
      const tail = previous?.tailAt ?? -1;
      const nameLength = this.bytes[index]?.length ?? 0;
      let value: number | undefined;
      if (tail > 0 && end - s > tail && previous !== undefined && prefixAt(buf, s, previous.bytes, tail)) {
        const plain = plainTailValue(buf, s + tail, end, tail === nameLength);
        value = plain >= 0 ? plain : parseSampleTail(buf.toString('utf8', s + tail, end), tail === nameLength);
      }
      if (value !== undefined && previous !== undefined) {
        sample = { labels: previous.sample.labels, value };
        keepLine(kept, n, buf, s, end, sample, tail);
      } else {
        const parsed = parseSampleLine(buf.toString('utf8', s, end));
        if (parsed === undefined) {
          this.badWantedLines++;
          this.invalidLines++;
          return;
        }
        sample = parsed.sample;
        keepLine(kept, n, buf, s, end, sample, tailAt(buf, s, end, nameLength));
      }
    }
    this.keptCount[index] = n + 1;
    if (n < list.length) list[n] = sample;
    else list.push(sample);
    if (n === 0) {
      this.lastAt[index] = at + (s - start) - 1;
      if (this.expect?.[index] === true) this.remaining--;
    }
  }

  /** `# TYPE name type`: a wanted family declared as a histogram (say) is a misconfigured server. */
  private typeLine(buf: Buffer, s: number, end: number): void {
    const index = this.match(buf, s, end);
    if (index === -1) return;
    const name = this.names[index] ?? '';
    let t = s + name.length;
    while (t < end && (buf[t] === SPACE || buf[t] === TAB)) t++;
    // The common case, checked on the bytes: `gauge` and the line's end.
    if (end - t === GAUGE.length && prefixAt(buf, t, GAUGE, GAUGE.length)) return;
    const type = buf.toString('latin1', t, end).trim();
    if (type !== '' && !READABLE_TYPES.has(type)) this.wrongTypes.push(`${name}: ${type}`);
  }

  /** Index of the wanted name the line starts with (followed by `{`, a blank or the line end), or -1. */
  private match(buf: Buffer, s: number, end: number): number {
    const count = this.bytes.length;
    for (let i = 0; i < count; i++) {
      const name = this.bytes[i];
      if (name === undefined) continue;
      const after = s + name.length;
      if (after > end) continue;
      if (after < end) {
        const next = buf[after];
        if (next !== OPEN_BRACE && next !== SPACE && next !== TAB) continue;
      }
      if (buf[s] !== this.firsts[i] || buf[after - 1] !== this.lasts[i]) continue;
      if (prefixAt(buf, s, name, name.length)) return i;
    }
    return -1;
  }
}

/** The wanted names as the reader compares them; read-only, shared by every reader wanting the same names. */
interface NameTable {
  readonly names: readonly string[];
  readonly bytes: readonly Buffer[];
  readonly needles: readonly Buffer[];
  readonly firsts: readonly number[];
  readonly lasts: readonly number[];
}

/**
 * Name tables by their names (a pool's endpoints share one engine's: a handful in all). Shared so that a thread
 * reading a thousand endpoints' pages in turn finds them in cache, not a thousand cold copies of the same names.
 */
const nameTables = new Map<string, NameTable>();
const MAX_NAME_TABLES = 64;

function nameTable(wanted: ReadonlySet<string>): NameTable {
  const names = [...wanted];
  const key = names.join('\n');
  const known = nameTables.get(key);
  if (known !== undefined) return known;
  const bytes = names.map((n) => Buffer.from(n, 'utf8'));
  const table: NameTable = {
    names,
    bytes,
    needles: names.map((n) => Buffer.from(`\n${n}`, 'utf8')),
    firsts: bytes.map((b) => b[0] ?? -1),
    lasts: bytes.map((b) => b[b.length - 1] ?? -1),
  };
  if (nameTables.size >= MAX_NAME_TABLES) nameTables.clear();
  nameTables.set(key, table);
  return table;
}

/**
 * A sample line as read (its own copy, `bytes[0, length)`) and what it parsed to. The record is rewritten in place
 * when its line changes (see keepLine); the samples it points to are never changed once made.
 */
interface KeptLine {
  /** Room for the line and some: a gauge's value gaining a digit fits. */
  bytes: Buffer;
  length: number;
  sample: PromSample;
  /** Where the value part begins (after the labels' `}`, or the name when there are none); -1: unknown. */
  tailAt: number;
}

/** Spare room in a kept line's buffer, for values that grow. */
const KEPT_LINE_SLACK = 16;

/**
 * Records `buf[s, end)` and its sample at `kept[n]`, rewriting the record there (its buffer too when the line fits).
 * That record is this page's own or the last page's record at the same place (`kept[n] = previous` for an
 * unchanged line): the caller has read all it needs of the last page's line before calling.
 */
function keepLine(kept: KeptLine[], n: number, buf: Buffer, s: number, end: number, sample: PromSample, tail: number): void {
  const length = end - s;
  const record = kept[n];
  if (record === undefined || record.bytes.length < length) {
    const bytes = Buffer.allocUnsafe(length + KEPT_LINE_SLACK);
    copyBytes(buf, s, end, bytes);
    if (record === undefined) kept[n] = { bytes, length, sample, tailAt: tail };
    else record.bytes = bytes;
  } else {
    copyBytes(buf, s, end, record.bytes);
  }
  const line = kept[n];
  if (line === undefined) return;
  line.length = length;
  line.sample = sample;
  line.tailAt = tail;
}

/**
 * Lines from this length on are copied natively: Buffer#copy makes a view object per call (~100 bytes of garbage,
 * more than a gauge line's copy by a byte loop costs in time).
 */
const NATIVE_COPY_BYTES = 512;

/** `buf[s, end)` into `to` from 0. */
function copyBytes(buf: Buffer, s: number, end: number, to: Buffer): void {
  if (end - s >= NATIVE_COPY_BYTES) {
    buf.copy(to, 0, s, end);
    return;
  }
  for (let i = s; i < end; i++) to[i - s] = buf[i] ?? 0;
}

/**
 * Offset in the valid sample line `buf[s, end)` (name `nameLength` bytes long) of what follows its labels, or its
 * name when it has none. The last `}` closes the labels: a value or timestamp holds none.
 */
function tailAt(buf: Buffer, s: number, end: number, nameLength: number): number {
  let p = s + nameLength;
  while (p < end && (buf[p] === SPACE || buf[p] === TAB)) p++;
  if (buf[p] !== OPEN_BRACE) return nameLength;
  const close = buf.lastIndexOf(CLOSE_BRACE, end - 1);
  return close > p ? close + 1 - s : -1;
}

/**
 * Whether `buf` holds the first `length` bytes of `bytes` at `at` (the caller checked both lengths fit). Short
 * operands (names, prefixes) by a byte loop, where Buffer.compare's argument checks and native call cost several
 * times more; long ones (whole lines: a LoRA info or cache-config line is 150-450 bytes) natively, at ~2 ns a byte
 * less.
 */
function prefixAt(buf: Buffer, at: number, bytes: Buffer, length: number): boolean {
  if (length >= NATIVE_COMPARE_BYTES) return buf.compare(bytes, 0, length, at, at + length) === 0;
  for (let i = 0; i < length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

/** What may follow a complete metric name on its line. */
function endsName(c: number | undefined): boolean {
  return c === OPEN_BRACE || c === SPACE || c === TAB || c === CR || c === NEWLINE;
}

/** [a-zA-Z_:], the first character of a metric name. */
function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
}
