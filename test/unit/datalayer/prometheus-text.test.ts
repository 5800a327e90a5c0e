import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../../src/datalayer/index.js';
import { parseSampleTail, plainTailValue } from '../../../src/datalayer/prometheus-text.js';
import { VLLM_PAGE } from './fixtures.js';

describe('parsePrometheusText', () => {
  it('reads samples with labels, skipping HELP/TYPE comments', () => {
    const parsed = parsePrometheusText(VLLM_PAGE);
    expect(parsed.invalidLines).toBe(0);
    expect(parsed.samples.get('vllm:num_requests_waiting')).toEqual([
      { labels: { engine: '0', model_name: 'meta-llama/Llama-3.1-8B-Instruct' }, value: 3 },
    ]);
    expect(parsed.samples.get('vllm:lora_requests_info')).toHaveLength(3);
  });

  it('keeps histogram parts under their own sample names, including le="+Inf"', () => {
    const parsed = parsePrometheusText(VLLM_PAGE);
    const buckets = parsed.samples.get('vllm:time_to_first_token_seconds_bucket') ?? [];
    expect(buckets.map((b) => b.labels['le'])).toEqual(['0.001', '0.5', '+Inf']);
    expect(parsed.samples.get('vllm:time_to_first_token_seconds_sum')?.[0]?.value).toBe(4.25);
  });

  it('parses NaN, +Inf, -Inf, exponents, timestamps, CRLF line ends and label-less samples', () => {
    const parsed = parsePrometheusText('a NaN\r\nb +Inf\nc -Inf 1700000000000\nd 1.5e-3\ne{} 7\n');
    expect(parsed.invalidLines).toBe(0);
    expect(parsed.samples.get('a')?.[0]?.value).toBeNaN();
    expect(parsed.samples.get('b')?.[0]?.value).toBe(Number.POSITIVE_INFINITY);
    expect(parsed.samples.get('c')?.[0]?.value).toBe(Number.NEGATIVE_INFINITY);
    expect(parsed.samples.get('d')?.[0]?.value).toBe(0.0015);
    expect(parsed.samples.get('e')?.[0]).toEqual({ labels: {}, value: 7 });
  });

  it('unescapes label values and accepts a trailing comma and blanks inside braces', () => {
    const parsed = parsePrometheusText('m{ a = "x\\"y" , b="line\\nnext",c="back\\\\slash", } 1\n');
    expect(parsed.samples.get('m')?.[0]?.labels).toEqual({ a: 'x"y', b: 'line\nnext', c: 'back\\slash' });
  });

  it('counts and skips malformed lines instead of throwing', () => {
    const text = [
      'good 1',
      '<html>not metrics</html>',
      'no_value',
      'bad_value abc',
      'unclosed{a="b" 1',
      'unterminated{a="b} 1',
      'trailing 1 2 3',
      '{a="b"} 1',
      'also_good{x="1"} 2',
    ].join('\n');
    const parsed = parsePrometheusText(text);
    expect(parsed.invalidLines).toBe(7);
    expect([...parsed.samples.keys()]).toEqual(['good', 'also_good']);
  });

  it('returns nothing for binary garbage without throwing', () => {
    const garbage = String.fromCharCode(...Array.from({ length: 500 }, (_, i) => (i * 7919) % 256));
    expect(() => parsePrometheusText(garbage)).not.toThrow();
  });

  it('with a keep-list parses only the named samples and ignores the rest, valid or not', () => {
    const parsed = parsePrometheusText(`${VLLM_PAGE}\nnot valid at all {{{\n`, {
      only: new Set(['vllm:num_requests_running']),
    });
    expect([...parsed.samples.keys()]).toEqual(['vllm:num_requests_running']);
    // Lines outside the keep-list are skipped after their name, so they are not even validated.
    expect(parsed.invalidLines).toBe(0);
  });
});

describe('plainTailValue', () => {
  const tailArb = fc.oneof(
    // Plain decimals of up to and beyond 15 digits, with leading zeros and blanks.
    fc.tuple(fc.constantFrom(' ', '  ', '\t', ''), fc.stringMatching(/^[0-9]{1,18}(\.[0-9]{0,18})?$/)).map(([b, v]) => b + v),
    // Everything parseSampleTail reads, and malformed tails.
    fc.tuple(
      fc.constantFrom(' ', '', '\t '),
      fc.constantFrom('1e-3', '-1', '+2', 'NaN', '+Inf', '-Inf', '.5', '5.', '0.5 1700000000', '0.5 ', '0.5x', 'x', '', '1..2', '0x10', '}'),
    ).map(([b, v]) => b + v),
    fc.double().map((d) => ` ${String(d)}`),
  );

  it('property: where it answers (>= 0), it equals parseSampleTail on the decoded tail; it answers for every plain decimal of at most 15 digits after a blank', () => {
    fc.assert(
      fc.property(tailArb, fc.boolean(), (tail, afterName) => {
        const bytes = Buffer.from(`xx${tail}yy`);
        const plain = plainTailValue(bytes, 2, bytes.length - 2, afterName);
        if (plain >= 0) expect(plain).toBe(parseSampleTail(tail, afterName));
        const digits = tail.replace(/[^0-9]/g, '').length;
        if (/^[ \t]+[0-9]+(\.[0-9]+)?$/.test(tail) && digits <= 15) expect(plain).toBe(parseSampleTail(tail, afterName));
      }),
      { seed: 14, numRuns: 2000 },
    );
  });

  it('takes bytes up to the end it is given, not past it', () => {
    const bytes = Buffer.from('v 0.25 123');
    expect(plainTailValue(bytes, 1, 6, true)).toBe(0.25);
    expect(plainTailValue(bytes, 1, bytes.length, true)).toBe(-1); // a timestamp: left to parseSampleTail
  });
});
