// Chained block hashes: equal prefixes give equal hashes, a difference changes that block and every later one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countTokens, textBlockHashes, tokenBlockHashes } from '../../../src/simulator/index.js';

describe('block hashes', () => {
  it('counts about 4 characters per token and hashes only full blocks', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('abcde')).toBe(2);
    expect(textBlockHashes('x'.repeat(60), 16, 'm')).toHaveLength(0);
    // 63 characters are 16 tokens: the block is full by the token count, so it is hashed.
    expect(textBlockHashes('x'.repeat(63), 16, 'm')).toHaveLength(1);
    expect(textBlockHashes('x'.repeat(64 * 3 + 10), 16, 'm')).toHaveLength(3);
    expect(tokenBlockHashes([1, 2, 3, 4, 5], 2, 'm')).toHaveLength(2);
  });

  it('gives equal hashes to equal prefixes and different hashes from the first differing block on', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 64 * 4, maxLength: 64 * 8 }),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1 }),
        (text, at, ch) => {
          const i = at % text.length;
          fc.pre(text[i] !== ch);
          const other = text.slice(0, i) + ch + text.slice(i + 1);
          const a = textBlockHashes(text, 16, 'model');
          const b = textBlockHashes(other, 16, 'model');
          const firstDiff = Math.floor(i / 64);
          for (let k = 0; k < Math.min(firstDiff, a.length); k++) expect(b[k]).toBe(a[k]);
          for (let k = firstDiff; k < a.length; k++) expect(b[k]).not.toBe(a[k]);
        },
      ),
    );
  });

  it('separates models, adapters and cache salts', () => {
    const text = 'y'.repeat(128);
    expect(textBlockHashes(text, 16, 'm|a|')).not.toEqual(textBlockHashes(text, 16, 'm||'));
    expect(textBlockHashes(text, 16, 'm||s1')).not.toEqual(textBlockHashes(text, 16, 'm||s2'));
  });
});
