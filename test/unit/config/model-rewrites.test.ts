import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../../src/config/index.js';

describe('configuration: modelRewrites', () => {
  it('takes InferenceModelRewrite specs in the CRD shape, defaulting the match type to Exact', () => {
    const c = parseConfig(`
modelRewrites:
  - name: llama-canary
    rules:
      - matches: [{ model: { value: llama } }]
        targets:
          - { modelRewrite: llama-v1, weight: 90 }
          - { modelRewrite: llama-v2, weight: 10 }
  - name: catch-all
    rules: [{ targets: [{ modelRewrite: default-model }] }]
`);
    expect(c.modelRewrites).toHaveLength(2);
    expect(c.modelRewrites[0]?.rules[0]?.matches[0]?.model).toEqual({ type: 'Exact', value: 'llama' });
    expect(c.modelRewrites[1]?.rules[0]?.matches).toEqual([]);
  });

  it('refuses mixed weights, weights out of the API bounds, other match types and duplicate names, naming the path', () => {
    const rule = (targets: unknown[]) => ({ modelRewrites: [{ name: 'r', rules: [{ targets }] }] });
    expect(() => validateConfig(rule([{ modelRewrite: 'a', weight: 1 }, { modelRewrite: 'b' }]))).toThrow(/modelRewrites\.0\.rules\.0\.targets: set a weight on every target/);
    expect(() => validateConfig(rule([{ modelRewrite: 'a', weight: 0 }]))).toThrow(/modelRewrites\.0\.rules\.0\.targets\.0\.weight/);
    expect(() => validateConfig(rule([{ modelRewrite: 'a', weight: 1_000_001 }]))).toThrow(/weight/);
    expect(() => validateConfig(rule([]))).toThrow(/modelRewrites\.0\.rules\.0\.targets/);
    expect(() =>
      validateConfig({ modelRewrites: [{ name: 'r', rules: [{ matches: [{ model: { type: 'Prefix', value: 'x' } }], targets: [{ modelRewrite: 'a' }] }] }] }),
    ).toThrow(/matches\.0\.model\.type/);
    expect(() =>
      validateConfig({ modelRewrites: [{ name: 'r', rules: [{ targets: [{ modelRewrite: 'a' }] }] }, { name: 'r', rules: [{ targets: [{ modelRewrite: 'b' }] }] }] }),
    ).toThrow(/rewrite names must be unique/);
  });
});
