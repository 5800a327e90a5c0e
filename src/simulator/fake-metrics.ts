// Fixed metric values a server reports instead of its real state: deterministic inputs for routing tests.
import { InvalidArgumentError } from '../core/index.js';

export interface FakeMetrics {
  readonly waiting?: number;
  readonly running?: number;
  /** In [0, 1]. */
  readonly kvUsage?: number;
  readonly loraRunning?: readonly string[];
  readonly loraWaiting?: readonly string[];
}

const KEYS = new Set(['waiting', 'running', 'kvUsage', 'loraRunning', 'loraWaiting']);

/** Validates an untrusted value (e.g. parsed from `--fake-metrics` JSON); the error names the field. */
export function parseFakeMetrics(value: unknown): FakeMetrics {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError('fakeMetrics', value, 'an object');
  }
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!KEYS.has(key)) throw new InvalidArgumentError(`fakeMetrics.${key}`, key, `one of ${[...KEYS].join(', ')}`);
  }
  const count = (key: string): number | undefined => {
    const v = input[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new InvalidArgumentError(`fakeMetrics.${key}`, v, 'an integer >= 0');
    }
    return v;
  };
  const names = (key: string): string[] | undefined => {
    const v = input[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string' && s.length > 0)) {
      throw new InvalidArgumentError(`fakeMetrics.${key}`, v, 'an array of non-empty strings');
    }
    return v;
  };
  const kv = input.kvUsage;
  if (kv !== undefined && (typeof kv !== 'number' || !(kv >= 0 && kv <= 1))) {
    throw new InvalidArgumentError('fakeMetrics.kvUsage', kv, 'a number in [0, 1]');
  }
  return Object.freeze({
    waiting: count('waiting'),
    running: count('running'),
    kvUsage: kv,
    loraRunning: names('loraRunning'),
    loraWaiting: names('loraWaiting'),
  });
}
