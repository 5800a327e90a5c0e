// Random picker: ignores scores; uniform choice without replacement.
import { type Random, randomInt } from '../../core/index.js';
import { type Picker } from '../types.js';

export const RANDOM_PICKER = 'random-picker';

export class RandomPicker implements Picker {
  readonly type = RANDOM_PICKER;

  /** Partial Fisher-Yates: O(n) setup, O(count) draws. */
  pick(scores: Float64Array, count: number, random: Random): number[] {
    const n = scores.length;
    const k = Math.min(Math.max(count, 0), n);
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + randomInt(random, n - i);
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
    return order.slice(0, k);
  }
}
