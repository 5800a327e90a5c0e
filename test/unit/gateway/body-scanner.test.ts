import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyReader, BodyScanner, type BodyScanResult, MAX_DECODED_BYTES, bodyToBuffer, parseRequestBody, withBodyModel } from '../../../src/gateway/index.js';
import { createPrefixHasherSync } from '../../../src/scheduler/index.js';

const hasher = createPrefixHasherSync({ blockSize: 16, maxBlocks: 64 });

/** Scans `body` fed in the given chunk lengths (the rest as one last chunk). */
function scan(body: Buffer | string, cuts: readonly number[] = []): BodyScanResult {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const scanner = new BodyScanner();
  let at = 0;
  for (const cut of cuts) {
    const end = Math.min(bytes.length, at + cut);
    scanner.write(bytes.subarray(at, end));
    at = end;
  }
  scanner.write(bytes.subarray(at));
  return scanner.end();
}

function ok(result: BodyScanResult) {
  if (!result.ok) throw new Error(`expected a scanned body, got: ${result.message}`);
  return result.body;
}

/** Splits into chunks of every length 1..n, so each boundary falls everywhere once. */
function everySplit(body: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let size = 1; size <= Math.min(body.length, 40); size++) {
    const chunks: Buffer[] = [];
    for (let o = 0; o < body.length; o += size) chunks.push(body.subarray(o, o + size));
    out.push(chunks);
  }
  return out;
}

const arbPromptBody = fc.record(
  {
    model: fc.string({ minLength: 1, unit: 'binary' }),
    stream: fc.boolean(),
    max_tokens: fc.oneof(fc.nat(), fc.double(), fc.string()),
    cache_salt: fc.string({ unit: 'binary' }),
    prompt: fc.oneof(fc.string({ unit: 'binary' }), fc.array(fc.string({ unit: 'binary' })), fc.array(fc.nat(100_000))),
    messages: fc.array(
      fc.record(
        {
          role: fc.constantFrom('system', 'user', 'assistant', 'tool'),
          content: fc.oneof(
            fc.string({ unit: 'binary' }),
            fc.array(
              fc.oneof(
                fc.record({ type: fc.constant('text'), text: fc.string({ unit: 'binary' }) }),
                fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.string() }) }),
                fc.record({ type: fc.constant('input_audio'), input_audio: fc.record({ data: fc.string(), format: fc.constant('wav') }) }),
              ),
            ),
          ),
          tool_calls: fc.array(fc.record({ id: fc.string(), function: fc.record({ name: fc.string(), arguments: fc.string({ unit: 'binary' }) }) })),
        },
        { requiredKeys: ['role'] },
      ),
    ),
    input: fc.oneof(fc.string({ unit: 'binary' }), fc.array(fc.string())),
    instructions: fc.string({ unit: 'binary' }),
    tools: fc.jsonValue(),
    temperature: fc.double({ noNaN: true, noDefaultInfinity: true }),
  },
  { requiredKeys: ['model'] },
);

describe('BodyScanner', () => {
  it('hashes the prompt exactly as JSON.parse then writePrompt would, for any body and any chunking (property)', () => {
    fc.assert(
      fc.property(arbPromptBody, fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 20 }), fc.boolean(), (obj, cuts, pretty) => {
        const body = Buffer.from(JSON.stringify(obj, null, pretty ? 2 : undefined));
        const scanned = ok(scan(body, cuts));
        const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        expect(scanned.model).toBe(parsed.model);
        expect(scanned.stream).toBe(parsed.stream === true);
        const mt = parsed.max_tokens;
        expect(scanned.maxTokens).toBe(typeof mt === 'number' && Number.isInteger(mt) && mt > 0 ? mt : undefined);
        expect([...hasher.hashBody(scanned.prompt, 'target')]).toEqual([...hasher.hashBody(parsed, 'target')]);
      }),
      { numRuns: 400 },
    );
  });

  it('accepts exactly what JSON.parse accepts as a JSON object with a string model, structure-wise (property)', () => {
    // Members the scanner only checks ("x", "v") and prompt members whose strings it decodes as it scans.
    const arbText = fc.oneof(
      fc.json().map((j) => `{"model":"m","x":${j}}`),
      fc.json().map((j) => `{"model":"m","messages":[{"role":"user","content":${j}}],"prompt":${j}}`),
      fc.json(),
      // Mangled JSON: a byte dropped, doubled or replaced somewhere.
      fc.tuple(fc.json(), fc.nat(), fc.constantFrom('', '"', '}', ']', ',', ':', '\\', 'x', '1', '-', '.', 'e', ' ', 'u'), fc.boolean()).map(([j, at, c, asPrompt]) => {
        const s = asPrompt ? `{"model":"m","prompt":${j}}` : `{"model":"m","v":${j}}`;
        const i = at % (s.length + 1);
        return s.slice(0, i) + c + s.slice(i + 1);
      }),
    );
    fc.assert(
      fc.property(arbText, fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 10 }), (text, cuts) => {
        let expected: boolean;
        try {
          const v = JSON.parse(text) as unknown;
          expected = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { model?: unknown }).model === 'string' && (v as { model: string }).model !== '';
        } catch {
          expected = false;
        }
        expect(scan(text, cuts).ok).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('reads a multi-byte UTF-8 character split across chunks at every byte', () => {
    const body = Buffer.from(JSON.stringify({ model: 'm', prompt: `${'a'.repeat(13)}é中😀${'b'.repeat(40)}` }));
    const expected = [...hasher.hashText(`${'a'.repeat(13)}é中😀${'b'.repeat(40)}`, 'm')];
    expect(expected.length).toBeGreaterThan(2);
    for (const chunks of everySplit(body)) {
      const reader = new BodyReader();
      for (const c of chunks) reader.write(c);
      const result = reader.finish();
      expect(result.chunks.length).toBe(chunks.length);
      expect([...hasher.hashBody(ok(result.scan ?? scan('')).prompt)]).toEqual(expected);
    }
  });

  it('decodes escapes split across chunks, surrogate pairs and lone surrogates as TextEncoder would', () => {
    const prompt = `line\n"q"\\/\t\u0001 é \ud83d\ude00 lone \ud800 end ${'z'.repeat(64)}`;
    const body = Buffer.from(JSON.stringify({ model: 'm', prompt }).replace('é', '\\u00e9').replace('😀', '\\ud83d\\ude00'));
    expect(body.toString()).toContain('\\u00e9');
    expect(body.toString()).toContain('\\ud83d\\ude00');
    const expected = [...hasher.hashText(prompt, 'm')];
    for (const chunks of everySplit(body)) {
      const scanner = new BodyScanner();
      for (const c of chunks) scanner.write(c);
      expect([...hasher.hashBody(ok(scanner.end()).prompt)]).toEqual(expected);
    }
  });

  it('finds a model key that comes after a 1 MB prompt', () => {
    const body = Buffer.from(`{"prompt":"${'p'.repeat(1_000_000)}","stream":true,"max_tokens":7,"model":"late-model"}`);
    const chunks: number[] = Array.from({ length: 20 }, () => 65_536);
    const scanned = ok(scan(body, chunks));
    expect(scanned).toMatchObject({ model: 'late-model', stream: true, maxTokens: 7 });
    expect(body.subarray(scanned.modelRange.start, scanned.modelRange.end).toString()).toBe('"late-model"');
  });

  it('hashes prompt strings past the decoding budget (decoded from the body when hashed) as JSON.parse would', () => {
    // 5 MB of escape-dense prompt: decoding as it scans stops inside the first string; the next one is not decoded.
    const first = 'quoted "words" and\nnew lines, é 中 '.repeat(150_000);
    const obj = { model: 'm', messages: [{ role: 'user', content: first }, { role: 'user', content: 'tail \u00e9 "end"' }] };
    const body = Buffer.from(JSON.stringify(obj));
    expect(body.length).toBeGreaterThan(MAX_DECODED_BYTES);
    const deep = createPrefixHasherSync({ blockSize: 64, maxBlocks: Math.ceil(body.length / 64) + 1 });
    const scanned = ok(scan(body, Array.from({ length: Math.ceil(body.length / 65_536) }, () => 65_536)));
    const keys = deep.hashBody(scanned.prompt);
    expect(keys.length).toBeGreaterThan(0);
    expect([...keys]).toEqual([...deep.hashBody(obj)]);
  });

  it('hashes chat messages with image, audio and text parts in order', () => {
    const messages = [
      { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(300)}` } }, { type: 'text', text: 'What is in the picture?' }] },
      { role: 'assistant', content: 'A cat.', tool_calls: [{ id: 't', type: 'function', function: { name: 'look', arguments: '{"x":1}' } }] },
    ];
    const body = { model: 'vlm', messages };
    const scanned = ok(scan(JSON.stringify(body), [7, 100, 3]));
    expect([...hasher.hashBody(scanned.prompt)]).toEqual([...hasher.hashBody(body)]);
    expect(hasher.hashBody(scanned.prompt).length).toBeGreaterThan(20);
  });

  it('refuses invalid JSON at the end of a long body, and other malformed bodies, naming the byte', () => {
    const long = `{"model":"m","prompt":"${'x'.repeat(500_000)}"`;
    for (const bad of [`${long}}}`, `${long},}`, `${long}`, `${long}} x`, `${long},"a":tru}`, `${long},"a":01}`, `${long},"a":"\\q"}`, `${long},"a":"\\u12g4"}`]) {
      const r = scan(bad, [65_536, 65_536]);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toMatch(/^request body is not valid JSON: .* at byte \d+$/);
    }
    // Invalid escapes inside the prompt (decoded as it is scanned), wherever the chunks are cut.
    for (const escape of ['\\q', '\\x', '\\a', '\\1', '\\U0041', '\\u12g4', '\\u00e"']) {
      for (const chunks of everySplit(Buffer.from(`{"model":"m","prompt":"${'x'.repeat(9)}${escape}yz"}`))) {
        const scanner = new BodyScanner();
        for (const c of chunks) scanner.write(c);
        expect(scanner.end().ok).toBe(false);
      }
    }
    expect(scan('')).toEqual({ ok: false, message: expect.stringMatching(/empty/) as unknown });
    expect(scan('[1]')).toEqual({ ok: false, message: 'request body must be a JSON object' });
    expect(scan('{"model":7}')).toEqual({ ok: false, message: expect.stringMatching(/missing "model"/) as unknown });
    expect(scan(`${'['.repeat(300)}${']'.repeat(300)}`).ok).toBe(false);
  });

  it('keeps only the prompt members: other members are checked, not built', () => {
    const scanned = ok(scan('{"model":"m","tools":[{"a":{"b":[1,2,{"c":"d"}]}}],"prompt":"hi","__proto__":{"x":1}}'));
    expect(Object.keys(scanned.prompt).sort()).toEqual(['model', 'prompt']);
  });
});

describe('model rewrite over chunks', () => {
  it('replaces only the model bytes, reusing the other chunks as views, wherever the chunks are cut (property)', () => {
    fc.assert(
      fc.property(arbPromptBody, fc.string(), fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 10 }), (obj, target, cuts) => {
        const json = Buffer.from(JSON.stringify(obj));
        const body = Buffer.alloc(json.length); // never from the shared pool: its chunks are told apart by buffer
        json.copy(body);
        const reader = new BodyReader();
        let at = 0;
        for (const cut of [...cuts, body.length]) {
          reader.write(body.subarray(at, Math.min(body.length, at + cut)));
          at = Math.min(body.length, at + cut);
        }
        const received = reader.finish();
        const parsed = parseRequestBody('/v1/chat/completions', received);
        if (!parsed.ok) throw new Error(parsed.message);
        const out = withBodyModel(received, parsed.body.modelRange, target);
        const bytes = bodyToBuffer(out);
        expect(out.length).toBe(bytes.length);
        expect(JSON.parse(bytes.toString())).toEqual(JSON.parse(JSON.stringify({ ...obj, model: target })));
        // Everything before and after the model value is the client's bytes.
        const { start, end } = parsed.body.modelRange;
        expect(bytes.subarray(0, start).equals(body.subarray(0, start))).toBe(true);
        expect(bytes.subarray(bytes.length - (body.length - end)).equals(body.subarray(end))).toBe(true);
        // Views of the received chunks, not copies.
        const backing = new Set(received.chunks.map((c) => c.buffer));
        expect(out.chunks.filter((c) => !backing.has(c.buffer)).length).toBe(1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('BodyText.writeUtf8', () => {
  // Escape-dense text with every escape form and multi-byte characters, some written as \u escapes.
  const arbText = fc.array(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom('\n', '"', '\\', '/', '\t', '\b', '\f', '\r', '\u0001', 'é', '中', '😀', '\ud800'),
      fc.string({ unit: 'grapheme-ascii', minLength: 30, maxLength: 90 }),
    ),
    { maxLength: 40 },
  );

  it('writes the bytes TextEncoder.encodeInto writes, whatever the chunking, room and escape forms (property)', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(arbText, fc.boolean(), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 12 }), fc.nat(600), fc.nat(5), (parts, asUnicode, cuts, room, at) => {
        const text = parts.join('');
        let json = JSON.stringify({ model: 'm', prompt: text });
        // JSON.stringify writes non-ASCII as it stands; the \u form must decode the same.
        if (asUnicode) json = json.replace(/[^ -~]/gu, (c) => c.split('').map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''));
        const scanned = ok(scan(json, cuts));
        const prompt = scanned.prompt.prompt as { writeUtf8(into: Uint8Array, at: number): number };
        const into = new Uint8Array(at + room).fill(0xaa);
        const expected = new Uint8Array(at + room).fill(0xaa);
        const n = prompt.writeUtf8(into, at);
        const { written } = encoder.encodeInto(text, expected.subarray(at));
        expect(n).toBe(written);
        // What comes after the bytes written is scratch (the decoder may have begun a character that did not fit).
        expect(Buffer.from(into.subarray(0, at + n)).equals(Buffer.from(expected.subarray(0, at + n)))).toBe(true);
        // Once the scan's decoded bytes are released, the text is decoded again from the body: the same bytes.
        scanned.release();
        const again = new Uint8Array(at + room).fill(0xaa);
        expect(prompt.writeUtf8(again, at)).toBe(written);
        expect(Buffer.from(again.subarray(0, at + n)).equals(Buffer.from(expected.subarray(0, at + n)))).toBe(true);
      }),
      { numRuns: 1500, seed: 19 },
    );
  });
});
