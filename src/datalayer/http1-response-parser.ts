// HTTP/1.1 response parser for metrics scrapes: takes the bytes of one GET's answer as they come off the socket
// and hands a 200's body straight to the page reader, chunk by chunk (content-length, chunked, or until close).
// Only what a scrape needs: status, framing, content type, keep-alive; everything else in the head is skipped.
import { type MetricsBodySink } from './metrics-fetcher.js';
import { ScrapeFailure } from './scrape-failure.js';

/** A response head larger than this is not a metrics server's. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** An error page is read this far (so the connection survives it), then the connection is dropped. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** A chunk-size line (hex size and extensions) or trailer line longer than this is malformed. */
const MAX_FRAMING_LINE = 1024;

const CR = 13;
const LF = 10;
const HEAD_END = Buffer.from('\r\n\r\n');

/** What `push` reports: more bytes are needed, or the answer is complete (see `failure` and `reusable`). */
export const NEED_MORE = 0;
export const COMPLETE = 1;
export type PushResult = typeof NEED_MORE | typeof COMPLETE;

type BodyMode = 'length' | 'chunked' | 'close' | 'none';
/** Chunked framing: reading a size line, data, the CRLF after data, or trailer lines. */
type ChunkState = 'size' | 'data' | 'data-end' | 'trailer';

const SPACE = 32;
const TAB = 9;
const COLON = 58;
const SEMICOLON = 59;
const DIGIT_0 = 48;
const HTTP_1 = Buffer.from('HTTP/1.');
const CONTENT_LENGTH = Buffer.from('content-length');
const CONTENT_TYPE = Buffer.from('content-type');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const CONNECTION = Buffer.from('connection');
const TEXT_PLAIN = Buffer.from('text/plain');
const OPENMETRICS = Buffer.from('application/openmetrics-text');

/**
 * Whether `buf[from, to)` (a content-type value) is a type a metrics page may come as: the media type before any
 * `;` is empty, `text/plain` or `application/openmetrics-text`, in any case. `text/html` or `application/json`
 * means the path points at something else. (A missing header is accepted: some exporters send none.)
 */
function isMetricsContentType(buf: Buffer, from: number, to: number): boolean {
  let end = from;
  while (end < to && buf[end] !== SEMICOLON) end++;
  const s = skipBlanks(buf, from, end);
  const e = trimEnd(buf, s, end);
  return s === e || equalsLower(buf, s, e, TEXT_PLAIN) || equalsLower(buf, s, e, OPENMETRICS);
}

/** The first index in `[from, to)` that is not a blank (HTTP's optional white space: spaces and tabs), or `to`. */
function skipBlanks(buf: Buffer, from: number, to: number): number {
  let s = from;
  while (s < to && (buf[s] === SPACE || buf[s] === TAB)) s++;
  return s;
}

/** `to` moved back over trailing blanks, not before `from`. */
function trimEnd(buf: Buffer, from: number, to: number): number {
  let e = to;
  while (e > from && (buf[e - 1] === SPACE || buf[e - 1] === TAB)) e--;
  return e;
}

/** Whether `buf[from, to)` equals `lower` (lower-case ASCII letters, digits and punctuation) ignoring case. */
function equalsLower(buf: Buffer, from: number, to: number, lower: Buffer): boolean {
  if (to - from !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = buf[from + i] ?? 0;
    const want = lower[i] ?? 0;
    // Only letters fold: 'A'-'Z' | 0x20 is 'a'-'z'; other bytes must match exactly.
    if (c !== want && !(c >= 65 && c <= 90 && (c | 0x20) === want)) return false;
  }
  return true;
}

/** Index of the CRLF ending the head line that starts at `from`, or `end` (the head's last line). */
function lineEnd(buf: Buffer, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return end;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= DIGIT_0 && c <= DIGIT_0 + 9;
}

/**
 * One per connection, reused for every request (`begin` resets it). Not re-entrant: one answer at a time,
 * which is all a scrape connection ever has in flight.
 *
 * Cost: one native search for the head's end and a short latin1 decode of the head (~150 bytes); body bytes are
 * passed on as subarrays, never copied, except a head or framing line cut by a read boundary (copied, bounded).
 * Failures are thrown as ScrapeFailure; after one the connection must be dropped.
 */
export class Http1ResponseParser {
  private sink: MetricsBodySink | undefined;
  private wanting = true;
  private head: Buffer | undefined;
  private inHead = true;
  private mode: BodyMode = 'none';
  private status = 0;
  private remaining = 0;
  private bodyBytes = 0;
  private keepAlive = true;
  private chunkState: ChunkState = 'size';
  private chunkSize = 0;
  private sizeDigits = 0;
  private inExtension = false;
  private lineBytes = 0;
  private sawCr = false;
  private done = false;
  /** Where the bytes of the `push` in progress end in its buffer (a shared read buffer holds stale bytes after). */
  private limit = 0;
  /** A failure found in a complete answer (an HTTP error status): the connection stays usable. */
  failure: ScrapeFailure | undefined;
  /** Bytes of this answer seen so far (0: the server has not begun to answer). */
  received = 0;

  constructor(private readonly maxBodyBytes: number) {}

  begin(sink: MetricsBodySink): void {
    this.sink = sink;
    this.wanting = true;
    this.head = undefined;
    this.inHead = true;
    this.mode = 'none';
    this.status = 0;
    this.remaining = 0;
    this.bodyBytes = 0;
    this.keepAlive = true;
    this.chunkState = 'size';
    this.resetSizeLine();
    this.done = false;
    this.failure = undefined;
    this.received = 0;
  }

  /** Whether the connection may carry the next request (the answer was complete, framed and not `close`). */
  get reusable(): boolean {
    return this.done && this.keepAlive && this.mode !== 'close';
  }

  /**
   * Whether the connection may still carry another request once this answer is complete: nothing read so far
   * (head included, when read) rules it out.
   */
  get mayBeReusable(): boolean {
    return this.keepAlive && this.mode !== 'close';
  }

  /**
   * The rest of this answer goes to no sink: it is only framed and counted off the connection (the limits still
   * apply), so the connection can carry the next request once the answer is complete.
   */
  discard(): void {
    this.sink = undefined;
    this.wanting = false;
  }

  /**
   * Feeds bytes of the answer, `buf[0, end)`; `buf` may be reused by the caller once this returns. Bytes past the
   * end of the answer make the connection unusable (a server may not answer what was not asked). `end` lets a
   * caller reading into one shared buffer pass it as it is, without a view object per read; nothing at or after
   * `end` is looked at as part of the answer.
   */
  push(buf: Buffer, end = buf.length): PushResult {
    if (this.done) {
      this.keepAlive = false;
      return COMPLETE;
    }
    this.limit = end;
    this.received += end;
    let pos = 0;
    if (this.inHead) {
      pos = this.readHead(buf);
      if (pos === -1) return NEED_MORE;
      if (this.done) {
        if (pos < end) this.keepAlive = false;
        return COMPLETE;
      }
    }
    const result = this.mode === 'chunked' ? this.readChunked(buf, pos) : this.readPlain(buf, pos);
    return result;
  }

  /** The server closed the connection: completes an answer framed by close, else it is cut short. */
  end(): PushResult {
    if (this.done) return COMPLETE;
    if (!this.inHead && this.mode === 'close') {
      this.finish();
      return COMPLETE;
    }
    throw new ScrapeFailure('reset', this.received === 0 ? 'connection closed before an answer' : 'connection closed mid-answer');
  }

  /** Returns the index after the head, or -1 when the head is not complete yet. */
  private readHead(buf: Buffer): number {
    const limit = this.limit;
    let data = buf;
    let dataEnd = limit;
    let offset = 0;
    if (this.head !== undefined) {
      offset = this.head.length;
      data = Buffer.concat([this.head, buf.subarray(0, limit)]);
      dataEnd = data.length;
    }
    let end = data.indexOf(HEAD_END, Math.max(0, offset - 3));
    if (end + HEAD_END.length > dataEnd) end = -1; // found in stale bytes past this read's end only
    if (end === -1) {
      if (dataEnd > MAX_HEAD_BYTES) throw new ScrapeFailure('bad-http', `response head over ${MAX_HEAD_BYTES} bytes`);
      // Copied: the caller reuses its read buffer.
      this.head = this.head === undefined ? Buffer.from(buf.subarray(0, limit)) : data;
      return -1;
    }
    if (end > MAX_HEAD_BYTES) throw new ScrapeFailure('bad-http', `response head over ${MAX_HEAD_BYTES} bytes`);
    this.head = undefined;
    const informational = this.parseHead(data, end);
    const next = end + 4 - offset;
    if (informational) {
      // 100 Continue and friends precede the real answer.
      if (next >= limit) return -1;
      this.limit = limit - next;
      const after = this.readHead(buf.subarray(next, limit));
      this.limit = limit;
      return after === -1 ? -1 : after + next;
    }
    this.inHead = false;
    return next;
  }

  /**
   * Parses status line and headers, `data[0, end)`, on the bytes: only the values of the four headers a scrape
   * needs are looked at (decoded only to name them in an error). Returns true for a 1xx head to skip.
   */
  private parseHead(data: Buffer, end: number): boolean {
    const statusEnd = lineEnd(data, 0, end);
    // `HTTP/1.x NNN`, then a blank or the line's end.
    const valid =
      statusEnd >= 12 &&
      bytesAt(data, 0, HTTP_1) &&
      (data[7] === DIGIT_0 || data[7] === DIGIT_0 + 1) &&
      data[8] === SPACE &&
      isDigit(data[9]) &&
      isDigit(data[10]) &&
      isDigit(data[11]) &&
      (statusEnd === 12 || data[12] === SPACE);
    if (!valid) {
      throw new ScrapeFailure('bad-http', `not an HTTP/1.x answer: ${JSON.stringify(data.toString('latin1', 0, Math.min(statusEnd, 40)))}`);
    }
    const status = ((data[9] ?? 0) - DIGIT_0) * 100 + ((data[10] ?? 0) - DIGIT_0) * 10 + ((data[11] ?? 0) - DIGIT_0);
    if (status >= 100 && status < 200) {
      if (status === 101) throw new ScrapeFailure('bad-http', 'unexpected protocol switch');
      return true;
    }
    this.status = status;
    this.keepAlive = data[7] === DIGIT_0 + 1;
    let length: number | undefined;
    let chunked = false;
    let typeStart = -1;
    let typeEnd = -1;
    for (let start = statusEnd + 2; start < end; ) {
      const stop = lineEnd(data, start, end);
      const colon = data.indexOf(COLON, start);
      if (colon <= start || colon >= stop) {
        throw new ScrapeFailure('bad-http', `malformed header line ${JSON.stringify(data.toString('latin1', start, Math.min(stop, start + 40)))}`);
      }
      const ns = skipBlanks(data, start, colon);
      const ne = trimEnd(data, ns, colon);
      const vs = skipBlanks(data, colon + 1, stop);
      const ve = trimEnd(data, vs, stop);
      if (equalsLower(data, ns, ne, CONTENT_LENGTH)) {
        let value = 0;
        for (let i = vs; i < ve; i++) {
          const c = data[i];
          if (!isDigit(c)) {
            value = Number.NaN;
            break;
          }
          value = value * 10 + ((c ?? 0) - DIGIT_0);
        }
        if (vs === ve || Number.isNaN(value) || (length !== undefined && length !== value)) {
          throw new ScrapeFailure('bad-http', `invalid content-length ${JSON.stringify(data.toString('latin1', vs, ve))}`);
        }
        length = value;
      } else if (equalsLower(data, ns, ne, TRANSFER_ENCODING)) {
        const value = data.toString('latin1', vs, ve);
        const codings = value.toLowerCase().split(',').map((c) => c.trim());
        if (codings[codings.length - 1] !== 'chunked') throw new ScrapeFailure('bad-http', `transfer-encoding ${value}`);
        chunked = true;
      } else if (equalsLower(data, ns, ne, CONTENT_TYPE)) {
        typeStart = vs;
        typeEnd = ve;
      } else if (equalsLower(data, ns, ne, CONNECTION)) {
        const tokens = data.toString('latin1', vs, ve).toLowerCase();
        if (tokens.includes('close')) this.keepAlive = false;
        else if (tokens.includes('keep-alive')) this.keepAlive = true;
      }
      start = stop + 2;
    }
    if (chunked) {
      this.mode = 'chunked';
      // Both framings at once is how request smuggling starts: read it as chunked, then drop the connection.
      if (length !== undefined) this.keepAlive = false;
    } else if (status === 204 || status === 304) {
      this.mode = 'none';
    } else if (length !== undefined) {
      this.mode = 'length';
      this.remaining = length;
    } else {
      this.mode = 'close';
    }
    if (status === 200) {
      if (typeStart !== -1 && !isMetricsContentType(data, typeStart, typeEnd)) {
        throw new ScrapeFailure('wrong-type', `content type ${data.toString('latin1', typeStart, typeEnd)} is not a metrics page`);
      }
      if (length !== undefined && length > this.maxBodyBytes) {
        throw new ScrapeFailure('too-large', `metrics page of ${length} bytes is over the ${this.maxBodyBytes}-byte limit`);
      }
    } else {
      this.failure = new ScrapeFailure('http-status', `HTTP status ${status}`, { status });
    }
    if (this.mode === 'none' || (this.mode === 'length' && length === 0)) this.finish();
    return false;
  }

  private readPlain(buf: Buffer, pos: number): PushResult {
    const available = this.limit - pos;
    if (this.mode === 'close') {
      if (available > 0) this.body(buf, pos, this.limit);
      return NEED_MORE;
    }
    const take = Math.min(available, this.remaining);
    if (take > 0) this.body(buf, pos, pos + take);
    this.remaining -= take;
    if (this.remaining > 0) return NEED_MORE;
    if (take < available) this.keepAlive = false;
    this.finish();
    return COMPLETE;
  }

  private readChunked(buf: Buffer, start: number): PushResult {
    let pos = start;
    const length = this.limit;
    while (pos < length) {
      switch (this.chunkState) {
        case 'data': {
          const take = Math.min(length - pos, this.chunkSize);
          this.body(buf, pos, pos + take);
          this.chunkSize -= take;
          pos += take;
          if (this.chunkSize === 0) {
            this.chunkState = 'data-end';
            this.sawCr = false;
          }
          break;
        }
        case 'data-end': {
          const c = buf[pos++];
          if (c === CR && !this.sawCr) this.sawCr = true;
          else if (c === LF) this.chunkState = 'size';
          else throw new ScrapeFailure('bad-http', 'chunk not followed by CRLF');
          break;
        }
        case 'size':
          pos = this.readSizeLine(buf, pos);
          break;
        case 'trailer':
          pos = this.readTrailer(buf, pos);
          if (this.done) {
            if (pos < length) this.keepAlive = false;
            return COMPLETE;
          }
          break;
      }
    }
    return NEED_MORE;
  }

  private resetSizeLine(): void {
    this.chunkSize = 0;
    this.sizeDigits = 0;
    this.inExtension = false;
    this.lineBytes = 0;
  }

  private readSizeLine(buf: Buffer, start: number): number {
    let pos = start;
    while (pos < this.limit) {
      const c = buf[pos++] ?? 0;
      if (++this.lineBytes > MAX_FRAMING_LINE) throw new ScrapeFailure('bad-http', 'chunk size line too long');
      if (c === LF) {
        if (this.sizeDigits === 0) throw new ScrapeFailure('bad-http', 'chunk size missing');
        const size = this.chunkSize;
        this.resetSizeLine();
        if (size === 0) {
          this.chunkState = 'trailer';
        } else {
          this.chunkState = 'data';
          this.chunkSize = size;
        }
        return pos;
      }
      if (c === CR || this.inExtension) continue;
      if (c === 59 /* ; */ || c === 32 || c === 9) {
        this.inExtension = true;
        continue;
      }
      const digit = hexValue(c);
      if (digit === -1) throw new ScrapeFailure('bad-http', 'invalid chunk size');
      this.chunkSize = this.chunkSize * 16 + digit;
      this.sizeDigits++;
      // Checked here, before the data: a declared chunk alone over the limit is too large.
      if (this.chunkSize + this.bodyBytes > this.maxBodyBytes && this.status === 200) {
        throw new ScrapeFailure('too-large', `metrics page larger than the ${this.maxBodyBytes}-byte limit`);
      }
      if (this.chunkSize > Number.MAX_SAFE_INTEGER / 16) throw new ScrapeFailure('bad-http', 'chunk size out of range');
    }
    return pos;
  }

  /** Trailer lines after the last chunk, up to the empty line that ends the answer. */
  private readTrailer(buf: Buffer, start: number): number {
    let pos = start;
    while (pos < this.limit) {
      const c = buf[pos++];
      if (c === LF) {
        if (this.lineBytes === 0) {
          this.finish();
          return pos;
        }
        this.lineBytes = 0;
      } else if (c !== CR) {
        if (++this.lineBytes > MAX_FRAMING_LINE) throw new ScrapeFailure('bad-http', 'trailer line too long');
      }
    }
    return pos;
  }

  private body(buf: Buffer, from: number, to: number): void {
    this.bodyBytes += to - from;
    if (this.status !== 200) {
      if (this.bodyBytes > MAX_ERROR_BODY_BYTES) throw new ScrapeFailure('http-status', `HTTP status ${this.status}`, { status: this.status });
      return;
    }
    if (this.bodyBytes > this.maxBodyBytes) {
      throw new ScrapeFailure('too-large', `metrics page larger than the ${this.maxBodyBytes}-byte limit`);
    }
    // Once the reader has what it needs the rest is only counted off the connection, so it stays reusable.
    if (this.wanting) this.wanting = this.sink?.push(buf.subarray(from, to)) ?? false;
  }

  private finish(): void {
    this.done = true;
    this.sink = undefined;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Whether `buf` holds `bytes` at `at`. */
function bytesAt(buf: Buffer, at: number, bytes: Buffer): boolean {
  if (at + bytes.length > buf.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}
