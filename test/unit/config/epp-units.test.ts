// Go durations and Kubernetes quantities read as the Go EPP reads them.
import { describe, expect, it } from 'vitest';
import { parseGoDuration, parseQuantity } from '../../../src/config/epp/index.js';

describe('parseGoDuration', () => {
  it.each([
    ['150ms', 150],
    ['1m30s', 90_000],
    ['1.5s', 1_500],
    ['2h', 7_200_000],
    ['300us', 0.3],
    ['0s', 0],
    ['0', 0],
  ])('%s = %d ms', (text, ms) => expect(parseGoDuration(text, 'f')).toBeCloseTo(ms));

  it.each(['90', '5 minutes', 's', '', '1d', '-1s'])('refuses %j naming the field', (text) => {
    expect(() => parseGoDuration(text, 'flowControl.defaultRequestTTL')).toThrow(/^flowControl\.defaultRequestTTL: must be a Go duration/);
  });
});

describe('parseQuantity', () => {
  it.each([
    ['100', 100],
    ['1k', 1_000],
    ['500M', 500_000_000],
    ['1Gi', 2 ** 30],
    ['1e3', 1_000],
    ['0.5', 1],
    [2048, 2048],
  ] as const)('%s = %d', (text, n) => expect(parseQuantity(text, 'f')).toBe(n));

  it.each(['-1', '1GB', 'lots', ''])('refuses %j naming the field', (text) => {
    expect(() => parseQuantity(text, 'flowControl.maxBytes')).toThrow(/^flowControl\.maxBytes: must be a non-negative Kubernetes quantity/);
  });
});
