import { describe, expect, it } from 'vitest';
import { ModelRewriter, WeightedSplitter, rewriteSetFromSpec } from '../../../src/gateway/index.js';

describe('ModelRewriter', () => {
  const canary = rewriteSetFromSpec(
    'canary',
    {
      rules: [
        {
          matches: [{ model: { type: 'Exact', value: 'llama' } }, { model: { value: 'llama-latest' } }],
          targets: [
            { modelRewrite: 'llama-v1', weight: 3 },
            { modelRewrite: 'llama-v2', weight: 1 },
          ],
        },
      ],
    },
    0,
  );

  it('splits a matching model over its targets by weight, spreading the smaller target out', () => {
    const r = new ModelRewriter([canary]);
    const picks = Array.from({ length: 8 }, () => r.resolve('llama')?.target);
    expect(picks.filter((p) => p === 'llama-v1')).toHaveLength(6);
    expect(picks.filter((p) => p === 'llama-v2')).toHaveLength(2);
    expect(picks[0]).toBe('llama-v1');
    // The second target never comes twice in a row at weights 3:1.
    picks.forEach((p, i) => {
      if (p === 'llama-v2') expect(picks[i + 1]).not.toBe('llama-v2');
    });
    expect(r.resolve('llama-latest')?.rewrite).toBe('canary');
    expect(r.resolve('mistral')).toBeUndefined();
  });

  it('prefers an exact match over a generic rule, the older rewrite on a tie, and the first rule within one', () => {
    const generic = rewriteSetFromSpec('catch-all', { rules: [{ targets: [{ modelRewrite: 'default-model' }] }] }, -5);
    const older = rewriteSetFromSpec('older', { rules: [{ matches: [{ model: { value: 'm' } }], targets: [{ modelRewrite: 'from-older' }] }] }, 1);
    const newer = rewriteSetFromSpec(
      'newer',
      {
        rules: [
          { matches: [{ model: { value: 'm' } }], targets: [{ modelRewrite: 'from-newer' }] },
          { matches: [{ model: { value: 'n' } }], targets: [{ modelRewrite: 'n-first' }] },
          { matches: [{ model: { value: 'n' } }], targets: [{ modelRewrite: 'n-second' }] },
        ],
      },
      2,
    );
    const r = new ModelRewriter([newer, generic, older]);
    expect(r.resolve('m')).toEqual({ target: 'from-older', rewrite: 'older' });
    expect(r.resolve('n')?.target).toBe('n-first');
    expect(r.resolve('anything-else')).toEqual({ target: 'default-model', rewrite: 'catch-all' });
    r.replace([newer]);
    expect(r.resolve('m')?.target).toBe('from-newer');
    expect(r.resolve('anything-else')).toBeUndefined();
    r.replace([]);
    expect(r.empty).toBe(true);
  });

  it('splits targets without weights equally', () => {
    const r = new ModelRewriter([
      rewriteSetFromSpec('ab', { rules: [{ matches: [{ model: { value: 'x' } }], targets: [{ modelRewrite: 'a' }, { modelRewrite: 'b' }] }] }, 0),
    ]);
    expect([1, 2, 3, 4].map(() => r.resolve('x')?.target)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('refuses weights that are not positive integers', () => {
    expect(() => new WeightedSplitter(['a'], [0])).toThrow(/positive integers/);
    expect(() => new WeightedSplitter(['a', 'b'], [1])).toThrow(/one weight per target/);
  });
});
