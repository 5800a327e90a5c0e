// Max-score picker: the highest total wins; ties are broken uniformly at random through the injected Random.
import { type Random, randomInt } from '../../core/index.js';
import { type Picker } from '../types.js';

export const MAX_SCORE_PICKER = 'max-score-picker';

export class MaxScorePicker implements Picker {
  readonly type = MAX_SCORE_PICKER;

  pick(scores: Float64Array, count: number, random: Random): number[] {
    const n = scores.length;
    if (n === 0 || count <= 0) return [];
    if (count === 1) return [argmaxWithRandomTies(scores, random)];
    // Shuffle, then stable-sort by score: equal scores keep their random order. O(n log n).
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = randomInt(random, i + 1);
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
    order.sort((a, b) => (scores[b] as number) - (scores[a] as number));
    return order.slice(0, Math.min(count, n));
  }
}

/** O(n), one pass; reservoir sampling keeps each tied maximum with equal probability. */
function argmaxWithRandomTies(scores: Float64Array, random: Random): number {
  let best = 0;
  let bestScore = scores[0] as number;
  let ties = 1;
  for (let i = 1; i < scores.length; i++) {
    const s = scores[i] as number;
    if (s > bestScore) {
      best = i;
      bestScore = s;
      ties = 1;
    } else if (s === bestScore) {
      ties++;
      if (randomInt(random, ties) === 0) best = i;
    }
  }
  return best;
}
