// priority-holdback: each band below the top gives way a step earlier than the one above it, so sheddable work
// stops before the pool is full and leaves headroom for bursts of important work (as in llm-d).
// A band's configured ceiling, when set, still caps it.
import { InvalidArgumentError } from '../../../core/index.js';
import { type UsageLimitPolicy } from './usage-limit-policy.js';

export const DEFAULT_HOLDBACK_STEP = 0.1;
export const DEFAULT_HOLDBACK_FLOOR = 0.5;

export interface PriorityHoldbackOptions {
  /** Ceiling drop per band of rank below the top. @default 0.1 */
  readonly step?: number;
  /** No band's ceiling goes below this. @default 0.5 */
  readonly floor?: number;
  /**
   * llm-d's form: the lowest-priority band gets this ceiling, the highest `maxCeiling`, and the bands between are
   * spaced evenly by rank. When set, `step` and `floor` are not used.
   */
  readonly minCeiling?: number;
  /** With `minCeiling`: the top band's ceiling. @default 1 */
  readonly maxCeiling?: number;
}

function linearByRank(minCeiling: number, maxCeiling: number): UsageLimitPolicy {
  if (!(minCeiling >= 0 && minCeiling < 1)) throw new InvalidArgumentError('usageLimit.minCeiling', minCeiling, 'a number in [0, 1)');
  if (!(maxCeiling > minCeiling && maxCeiling <= 1)) {
    throw new InvalidArgumentError('usageLimit.maxCeiling', maxCeiling, `a number in (minCeiling ${minCeiling}, 1]`);
  }
  return {
    name: 'priority-holdback',
    ceilings: (bands) => {
      const last = bands.length - 1;
      return bands.map((b, rank) => {
        const ceiling = last === 0 ? maxCeiling : maxCeiling - ((maxCeiling - minCeiling) * rank) / last;
        return Math.min(b.configuredCeiling ?? 1.0, ceiling);
      });
    },
  };
}

export function priorityHoldback(options: PriorityHoldbackOptions = {}): UsageLimitPolicy {
  if (options.minCeiling !== undefined) return linearByRank(options.minCeiling, options.maxCeiling ?? 1.0);
  const step = options.step ?? DEFAULT_HOLDBACK_STEP;
  const floor = options.floor ?? DEFAULT_HOLDBACK_FLOOR;
  if (!(step >= 0 && step <= 1)) throw new InvalidArgumentError('usageLimit.step', step, 'a number in [0, 1]');
  if (!(floor > 0 && floor <= 1)) throw new InvalidArgumentError('usageLimit.floor', floor, 'a number in (0, 1]');
  return {
    name: 'priority-holdback',
    ceilings: (bands) =>
      bands.map((b, rank) => Math.min(b.configuredCeiling ?? 1.0, Math.max(floor, 1.0 - step * rank))),
  };
}
