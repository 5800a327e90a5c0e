import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMPLETE, Http1ResponseParser, NEED_MORE } from '../../../src/datalayer/http1-response-parser.js';

const LIMIT = 4096;

/**
 * Stale bytes a shared read buffer holds after a read's end (another connection's answer): a head end, chunk
 * framing and a body the parser must not take as part of this one.
 */
const STALE = Buffer.from('\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc'.repeat(200), 'latin1');

/**
 * Feeds `wire` cut at `cuts` (sorted offsets); returns the body the sink saw and the parser. `shared`: each part
 * is copied to the start of one buffer holding stale bytes after it and passed with its end, as the fetcher passes
 * its shared `onread` buffer.
 */
function feed(wire: Buffer, cuts: readonly number[], limit = LIMIT, shared = false) {
  const parser = new Http1ResponseParser(limit);
  const parts: Buffer[] = [];
  parser.begin({ push: (chunk) => (parts.push(Buffer.from(chunk)), true) });
  let last = 0;
  let result: number = NEED_MORE;
  for (const at of [...cuts, wire.length]) {
    if (at <= last && at !== wire.length) continue;
    // The caller's read buffer is reused: scribble over it after each push, as a shared socket buffer would be.
    if (shared) {
      const part = wire.subarray(last, at);
      const buf = Buffer.concat([part, STALE]);
      result = parser.push(buf, part.length);
      buf.fill(0x58);
    } else {
      const chunk = Buffer.from(wire.subarray(last, at));
      result = parser.push(chunk);
      chunk.fill(0x58);
    }
    last = at;
    if (result === COMPLETE) break;
  }
  return { parser, body: Buffer.concat(parts).toString('latin1'), result };
}

function chunked(body: string, sizes: readonly number[]): string {
  let out = '';
  let pos = 0;
  for (const size of sizes) {
    if (pos >= body.length) break;
    const piece = body.slice(pos, pos + Math.max(1, size));
    out += `${piece.length.toString(16)}\r\n${piece}\r\n`;
    pos += piece.length;
  }
  if (pos < body.length) out += `${(body.length - pos).toString(16)};ext=1\r\n${body.slice(pos)}\r\n`;
  return `${out}0\r\nx-trailer: yes\r\n\r\n`;
}

const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n';

describe('Http1ResponseParser', () => {
  it('property: any cutting of a content-length or chunked answer, each read in a buffer of its own or at the start of a shared one with stale bytes after it, yields the same body and completes reusable', () => {
    const body = fc.string({ unit: 'binary-ascii', maxLength: 600 });
    fc.assert(
      fc.property(body, fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }), fc.array(fc.nat(900), { maxLength: 12 }), fc.boolean(), fc.boolean(), (text, sizes, cuts, useChunked, shared) => {
        const wire = Buffer.from(
          useChunked ? `${HEAD}transfer-encoding: chunked\r\n\r\n${chunked(text, sizes)}` : `${HEAD}content-length: ${text.length}\r\n\r\n${text}`,
          'latin1',
        );
        const { parser, body: seen, result } = feed(wire, [...cuts].sort((a, b) => a - b), LIMIT, shared);
        expect(result).toBe(COMPLETE);
        expect(seen).toBe(text);
        expect(parser.failure).toBeUndefined();
        expect(parser.reusable).toBe(true);
      }),
      { seed: 14, numRuns: 400 },
    );
  });

  it('skips a 100 Continue head before the answer', () => {
    for (const shared of [false, true]) {
      const { body, result } = feed(Buffer.from(`HTTP/1.1 100 Continue\r\n\r\n${HEAD}content-length: 2\r\n\r\nok`), [10, 30], LIMIT, shared);
      expect(result).toBe(COMPLETE);
      expect(body).toBe('ok');
    }
  });

  it('a head, a close-framed body or a cut answer in a shared buffer ends at the read\'s end, not at stale bytes after it', () => {
    const head = `${HEAD}\r\n`;
    const parser = new Http1ResponseParser(LIMIT);
    const parts: string[] = [];
    parser.begin({ push: (chunk) => (parts.push(chunk.toString('latin1')), true) });
    // The head's end is cut by the read: the stale head end right after it must not complete it.
    expect(parser.push(Buffer.concat([Buffer.from(head.slice(0, -2)), STALE]), head.length - 2)).toBe(NEED_MORE);
    expect(parts).toEqual([]);
    // The rest of the head and a close-framed body's first bytes: the body ends at the read's end.
    expect(parser.push(Buffer.concat([Buffer.from('\r\nabc'), STALE]), 5)).toBe(NEED_MORE);
    expect(parts.join('')).toBe('abc');
    expect(parser.received).toBe(head.length + 3);
  });

  it('reads a body framed by the connection closing, and does not reuse that connection', () => {
    const { parser, body, result } = feed(Buffer.from('HTTP/1.0 200 OK\r\n\r\nabc'), []);
    expect(result).toBe(NEED_MORE);
    expect(body).toBe('abc');
    expect(parser.end()).toBe(COMPLETE);
    expect(parser.reusable).toBe(false);
  });

  it('a complete non-200 answer is a failure with the connection kept; one with `connection: close` drops it', () => {
    const ok = feed(Buffer.from('HTTP/1.1 503 Unavailable\r\ncontent-length: 4\r\n\r\nbusy'), [3]);
    expect(ok.result).toBe(COMPLETE);
    expect(ok.body).toBe(''); // an error page never reaches the metrics reader
    expect(ok.parser.failure).toMatchObject({ reason: 'http-status', message: 'HTTP status 503' });
    expect(ok.parser.reusable).toBe(true);
    const closing = feed(Buffer.from('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'), []);
    expect(closing.parser.failure?.reason).toBe('http-status');
    expect(closing.parser.reusable).toBe(false);
  });

  it('bytes after the end of the answer make the connection unusable', () => {
    const { parser, result } = feed(Buffer.from(`${HEAD}content-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n`), []);
    expect(result).toBe(COMPLETE);
    expect(parser.reusable).toBe(false);
  });

  it('both framings at once is read as chunked and the connection is dropped after', () => {
    const { parser, body } = feed(Buffer.from(`${HEAD}content-length: 99\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n`), []);
    expect(body).toBe('ok');
    expect(parser.reusable).toBe(false);
  });

  it.each([
    ['not HTTP', 'SSH-2.0-OpenSSH_9.6\r\n\r\n', 'bad-http'],
    ['a malformed header', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'bad-http'],
    ['two different lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n', 'bad-http'],
    ['a bad chunk size', `${HEAD}transfer-encoding: chunked\r\n\r\nzz\r\n`, 'bad-http'],
    ['chunk data without its CRLF', `${HEAD}transfer-encoding: chunked\r\n\r\n2\r\nokXX`, 'bad-http'],
    ['a protocol switch', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', 'bad-http'],
    ['an HTML page', 'HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nhi', 'wrong-type'],
    ['a declared length over the limit', `${HEAD}content-length: ${LIMIT + 1}\r\n\r\n`, 'too-large'],
    ['an HTTP/2 status line', 'HTTP/2 200\r\n\r\n', 'bad-http'],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', 'bad-http'],
    ['a status glued to its reason', 'HTTP/1.1 200OK\r\n\r\n', 'bad-http'],
    ['a header with an empty name', 'HTTP/1.1 200 OK\r\n: x\r\n\r\n', 'bad-http'],
    ['a length that is not a number', 'HTTP/1.1 200 OK\r\ncontent-length: 12a\r\n\r\n', 'bad-http'],
    ['an empty length', 'HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n', 'bad-http'],
    ['a JSON page, type in capitals', 'HTTP/1.1 200 OK\r\nContent-Type: Application/JSON\r\ncontent-length: 2\r\n\r\n{}', 'wrong-type'],
    ['a declared chunk over the limit', `${HEAD}transfer-encoding: chunked\r\n\r\n${(LIMIT + 1).toString(16)}\r\n`, 'too-large'],
  ])('fails %s with %s', (_name, wire, reason) => {
    expect(() => feed(Buffer.from(wire), [])).toThrow(expect.objectContaining({ reason }) as Error);
  });

  it('reads header names in any case with blanks around values, and metrics content types with parameters', () => {
    for (const type of ['text/plain; version=0.0.4; charset=utf-8', 'Text/Plain', 'application/openmetrics-text; version=1.0.0', ' ;x=1', '']) {
      const wire = `HTTP/1.1 200 OK\r\nCONTENT-TYPE:\t${type} \r\nContent-Length:  3 \r\nConnection: Keep-Alive\r\n\r\nabc`;
      const { parser, body, result } = feed(Buffer.from(wire), [20]);
      expect({ type, result, body, reusable: parser.reusable, failure: parser.failure }).toEqual({ type, result: COMPLETE, body: 'abc', reusable: true, failure: undefined });
    }
    const closing = feed(Buffer.from('HTTP/1.1 200 OK\r\nCONNECTION: Close\r\ncontent-length: 0\r\n\r\n'), []);
    expect(closing.parser.reusable).toBe(false);
    // HTTP/1.0 closes unless asked to keep the connection; a status line may end at the code.
    expect(feed(Buffer.from('HTTP/1.0 200\r\ncontent-length: 1\r\n\r\nx'), []).parser.reusable).toBe(false);
    expect(feed(Buffer.from('HTTP/1.0 200\r\nconnection: keep-alive\r\ncontent-length: 1\r\n\r\nx'), []).parser.reusable).toBe(true);
    // A header whose name only looks alike (a byte that folds to '-' is not '-') is not content-length.
    const unlike = feed(Buffer.from('HTTP/1.1 200 OK\r\ncontent\rlength: 5\r\ncontent-length: 1\r\n\r\nx'), []);
    expect(unlike.body).toBe('x');
  });

  it('an endless page without length fails too-large once past the limit, a huge head bad-http', () => {
    const parser = new Http1ResponseParser(LIMIT);
    parser.begin({ push: () => true });
    parser.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
    const block = Buffer.alloc(1000, 0x61);
    expect(() => {
      for (let i = 0; i < 10; i++) parser.push(block);
    }).toThrow(expect.objectContaining({ reason: 'too-large' }) as Error);
    parser.begin({ push: () => true });
    expect(() => {
      parser.push(Buffer.from('HTTP/1.1 200 OK\r\n'));
      for (let i = 0; i < 20; i++) parser.push(Buffer.from(`x-filler: ${'a'.repeat(1000)}\r\n`));
    }).toThrow(expect.objectContaining({ reason: 'bad-http' }) as Error);
  });

  it('a connection closed before the answer is complete is a reset', () => {
    const parser = new Http1ResponseParser(LIMIT);
    parser.begin({ push: () => true });
    parser.push(Buffer.from(`${HEAD}content-length: 10\r\n\r\nabc`));
    expect(() => parser.end()).toThrow(expect.objectContaining({ reason: 'reset' }) as Error);
  });

  it('once the sink has enough, the rest is drained unexamined so the connection stays usable', () => {
    const parser = new Http1ResponseParser(LIMIT);
    let pushes = 0;
    parser.begin({ push: () => (pushes++, false) });
    expect(parser.push(Buffer.from(`${HEAD}content-length: 6\r\n\r\nab`))).toBe(NEED_MORE);
    expect(parser.push(Buffer.from('cd'))).toBe(NEED_MORE);
    expect(parser.push(Buffer.from('ef'))).toBe(COMPLETE);
    expect(pushes).toBe(1);
    expect(parser.reusable).toBe(true);
  });

  it('discard: the rest of an answer (head included) goes to no sink, completes reusable, and keeps the size limit', () => {
    const parser = new Http1ResponseParser(LIMIT);
    let pushes = 0;
    parser.begin({ push: () => (pushes++, true) });
    expect(parser.push(Buffer.from('HTTP/1.1 200 OK\r\ncontent-'))).toBe(NEED_MORE);
    parser.discard();
    expect(parser.mayBeReusable).toBe(true);
    expect(parser.push(Buffer.from('length: 6\r\n\r\nabc'))).toBe(NEED_MORE);
    expect(parser.push(Buffer.from('def'))).toBe(COMPLETE);
    expect(pushes).toBe(0);
    expect(parser.reusable).toBe(true);

    parser.begin({ push: () => (pushes++, true) });
    parser.discard();
    expect(() => parser.push(Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${LIMIT + 1}\r\n\r\n${'x'.repeat(LIMIT + 1)}`))).toThrow(/limit/);

    parser.begin({ push: () => (pushes++, true) });
    parser.push(Buffer.from('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 10\r\n\r\n'));
    expect(parser.mayBeReusable).toBe(false);
    expect(pushes).toBe(0);
  });
});
