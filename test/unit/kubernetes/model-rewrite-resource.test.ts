// Reading InferenceModelRewrite objects: the CRD's shape into rewrite rules, its schema's rules enforced (an
// invalid object is refused whole, naming the field), the defaults it states (Exact matching, the v1 pool group).
import { describe, expect, it } from 'vitest';
import { parseInferenceModelRewrite } from '../../../src/kubernetes/index.js';

function rewrite(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): unknown {
  return { metadata: { name: 'canary', creationTimestamp: '2026-12-01T10:00:00Z', ...metadata }, spec };
}

const POOL = { poolRef: { name: 'llama' } };

describe('parseInferenceModelRewrite', () => {
  it('reads rules, weights, the pool reference (group defaulted) and the creation time', () => {
    const parsed = parseInferenceModelRewrite(
      rewrite({
        ...POOL,
        rules: [
          { matches: [{ model: { value: 'chat' } }, { model: { type: 'Exact', value: 'talk' } }], targets: [{ modelRewrite: 'a', weight: 90 }, { modelRewrite: 'b', weight: 10 }] },
          { targets: [{ modelRewrite: 'fallback' }] },
        ],
      }),
    );
    expect(parsed).toEqual({
      ok: true,
      rewrite: {
        name: 'canary',
        createdAt: Date.parse('2026-12-01T10:00:00Z'),
        poolName: 'llama',
        poolGroup: 'inference.networking.k8s.io',
        terminating: false,
        rules: [
          {
            matches: [{ model: { type: 'Exact', value: 'chat' } }, { model: { type: 'Exact', value: 'talk' } }],
            targets: [{ modelRewrite: 'a', weight: 90 }, { modelRewrite: 'b', weight: 10 }],
          },
          { matches: [], targets: [{ modelRewrite: 'fallback' }] },
        ],
      },
    });
  });

  it('a weight of 0 is the Go client unset value; no creation time sorts last; a deletion marks it terminating', () => {
    const parsed = parseInferenceModelRewrite(
      rewrite({ ...POOL, rules: [{ targets: [{ modelRewrite: 'a', weight: 0 }, { modelRewrite: 'b', weight: 0 }] }] }, { creationTimestamp: undefined, deletionTimestamp: '2026-12-01T11:00:00Z' }),
    );
    expect(parsed?.ok && parsed.rewrite.rules[0]?.targets).toEqual([{ modelRewrite: 'a' }, { modelRewrite: 'b' }]);
    expect(parsed?.ok && parsed.rewrite.createdAt).toBe(Number.MAX_SAFE_INTEGER);
    expect(parsed?.ok && parsed.rewrite.terminating).toBe(true);
  });

  it('refuses an object the CRD schema would refuse, naming the field', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ rules: [{ matches: [{ model: { type: 'RegularExpression', value: 'c.*' } }], targets: [{ modelRewrite: 'a' }] }] }, /rules\[0\]\.matches\[0\]\.model\.type: only Exact/],
      [{ rules: [{ matches: [{ model: { value: '' } }], targets: [{ modelRewrite: 'a' }] }] }, /rules\[0\]\.matches\[0\]\.model\.value/],
      [{ rules: [{ targets: [{ modelRewrite: 'a', weight: 1 }, { modelRewrite: 'b' }] }] }, /rules\[0\]\.targets: set a weight on every target or on none/],
      [{ rules: [{ targets: [{ modelRewrite: 'a', weight: 2_000_000 }] }] }, /rules\[0\]\.targets\[0\]\.weight/],
      [{ rules: [{ targets: [{ modelRewrite: 'a', weight: 1.5 }] }] }, /rules\[0\]\.targets\[0\]\.weight/],
      [{ rules: [{}, { targets: [{ weight: 1 }] }] }, /rules\[1\]\.targets\[0\]\.modelRewrite/],
    ];
    for (const [spec, reason] of cases) {
      const parsed = parseInferenceModelRewrite(rewrite({ ...POOL, ...spec }));
      expect(parsed?.ok).toBe(false);
      if (parsed?.ok === false) {
        expect(parsed.name).toBe('canary');
        expect(parsed.reason).toMatch(reason);
      }
    }
  });

  it('an object without a name is not an object', () => {
    expect(parseInferenceModelRewrite({ spec: { rules: [] } })).toBeUndefined();
    expect(parseInferenceModelRewrite('nope')).toBeUndefined();
  });
});
