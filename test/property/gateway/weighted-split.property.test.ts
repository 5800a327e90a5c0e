// The weighted split of InferenceModelRewrite targets is exact: any window of sum(weights) consecutive requests of
// one rule gives each target its weight, within one request (in fact exactly), from any starting point.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelRewriter, WeightedSplitter } from '../../../src/gateway/index.js';

const weightsArb = fc.array(fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 400 })), { minLength: 1, maxLength: 6 });

function windowCounts(seq: readonly number[], start: number, length: number, targets: number): number[] {
  const counts = new Array<number>(targets).fill(0);
  for (let k = start; k < start + length; k++) counts[seq[k] as number]! += 1;
  return counts;
}

describe('weighted split (property)', () => {
  it('gives each target its weight within one request over any window of sum(weights) picks', () => {
    fc.assert(
      fc.property(weightsArb, fc.nat(), (weights, startSeed) => {
        const total = weights.reduce((a, b) => a + b, 0);
        const splitter = new WeightedSplitter(weights.map((_, i) => i), weights);
        const seq = Array.from({ length: 3 * total }, () => splitter.next());
        const start = startSeed % (2 * total + 1);
        const counts = windowCounts(seq, start, total, weights.length);
        weights.forEach((w, i) => expect(Math.abs((counts[i] as number) - w)).toBeLessThanOrEqual(1));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the position of a rule whose targets did not change across a reload, so windows stay exact', () => {
    fc.assert(
      fc.property(weightsArb, fc.integer({ min: 1, max: 500 }), (weights, reloadAfter) => {
        const set = (extra: string) => [
          { name: 'canary', order: 0, rules: [{ models: ['llama'], targets: weights.map((w, i) => ({ model: `t${i}`, weight: w })) }] },
          { name: extra, order: 1, rules: [{ models: ['other'], targets: [{ model: 'x', weight: 1 }] }] },
        ];
        const rewriter = new ModelRewriter(set('a'));
        const total = weights.reduce((a, b) => a + b, 0);
        const seq: number[] = [];
        for (let k = 0; k < 2 * total + reloadAfter; k++) {
          if (k === reloadAfter) rewriter.replace(set('b'));
          seq.push(Number(rewriter.resolve('llama')!.target.slice(1)));
        }
        for (let start = 0; start + total <= seq.length; start += Math.max(1, Math.floor(total / 7))) {
          const counts = windowCounts(seq, start, total, weights.length);
          weights.forEach((w, i) => expect(Math.abs((counts[i] as number) - w)).toBeLessThanOrEqual(1));
        }
      }),
      { numRuns: 100 },
    );
  });
});
