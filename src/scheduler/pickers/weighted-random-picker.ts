// Weighted-random picker: chance proportional to score, so good endpoints get more without taking everything.
import { type Random } from '../../core/index.js';
import { type Picker } from '../types.js';
import { RandomPicker } from './random-picker.js';

export const WEIGHTED_RANDOM_PICKER = 'weighted-random-picker';

export class WeightedRandomPicker implements Picker {
  readonly type = WEIGHTED_RANDOM_PICKER;
  private readonly uniform = new RandomPicker();

  /**
   * Weighted sampling without replacement (Efraimidis-Spirakis: key = u^(1/w), keep the largest keys).
   * Zero-score candidates come only after every positive one; all zero falls back to uniform. O(n log n).
   */
  pick(scores: Float64Array, count: number, random: Random): number[] {
    const n = scores.length;
    let positive = 0;
    for (let i = 0; i < n; i++) if ((scores[i] as number) > 0) positive++;
    if (positive === 0) return this.uniform.pick(scores, count, random);
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const w = scores[i] as number;
      // 1 - next() is in (0, 1], so the log is finite; log(u)/w orders like u^(1/w) without underflow.
      keys[i] = w > 0 ? Math.log(1 - random.next()) / w : -Infinity;
    }
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => compareDescending(keys[a] as number, keys[b] as number));
    return order.slice(0, Math.min(Math.max(count, 0), n));
  }
}

/** Total order that treats equal infinities as equal (plain subtraction would give NaN). */
function compareDescending(a: number, b: number): number {
  return a > b ? -1 : a < b ? 1 : 0;
}
