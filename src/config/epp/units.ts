// The units of a Go EndpointPickerConfig: Go durations (`150ms`, `1m30s`) and Kubernetes resource quantities
// (`1Gi`, `500M`, `1k`), read as the Go EPP reads them, so a value copied from a working file means the same here.
import { ConfigError, describe } from '../../core/index.js';

const DURATION_UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A Go `time.Duration` string (`300ms`, `1.5s`, `1h2m`, `0s`, also a bare `0`) in milliseconds. metav1.Duration
 * in YAML is always such a string; a plain number is taken as milliseconds only when it is 0.
 */
export function parseGoDuration(value: unknown, path: string): number {
  if (value === 0 || value === '0') return 0;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(path, `must be a Go duration such as "150ms", "30s" or "1m" (got ${describe(value)})`);
  }
  const text = value.trim();
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = part.exec(text); m !== null; m = part.exec(text)) {
    total += Number(m[1]) * (DURATION_UNIT_MS[m[2] ?? ''] ?? Number.NaN);
    at = part.lastIndex;
  }
  if (at !== text.length || at === 0 || !Number.isFinite(total)) {
    throw new ConfigError(path, `must be a Go duration such as "150ms", "30s" or "1m" (got ${describe(value)})`);
  }
  return total;
}

const QUANTITY_SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes `resource.Quantity` (`100`, `1k`, `500M`, `1Gi`, `1e3`), rounded up to a whole number as Value() does. */
export function parseQuantity(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.ceil(value);
  const bad = (): ConfigError =>
    new ConfigError(path, `must be a non-negative Kubernetes quantity such as "100", "1k", "500M" or "1Gi" (got ${describe(value)})`);
  if (typeof value !== 'string') throw bad();
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?\s*$/.exec(value);
  if (m === null) throw bad();
  const base = Number(m[1]) * 10 ** Number(m[2] ?? 0) * (QUANTITY_SUFFIX[m[3] ?? ''] ?? Number.NaN);
  if (!Number.isFinite(base)) throw bad();
  return Math.ceil(base);
}
