// Fairness figures for the tenant scenarios: Jain's index over weighted service, and max-min fair shares.
import { jainIndex } from '../../src/observability/jain-index.js';

/**
 * Jain's index of the weighted service `served[i] / weights[i]`: 1 when every tenant got service in
 * proportion to its weight, 1/n when one tenant got everything. Lengths must match; weights must be > 0.
 */
export function weightedJain(served: readonly number[], weights: readonly number[]): number {
  if (served.length !== weights.length) throw new Error('served and weights differ in length');
  return jainIndex(served.map((s, i) => s / (weights[i] ?? 1)));
}

/**
 * Weighted max-min fair allocation of `capacity` among tenants with these demands (water filling): a tenant
 * asking for less than its weighted share gets its demand, the rest is shared by weight among the others.
 */
export function maxMinShares(demands: readonly number[], weights: readonly number[], capacity: number): number[] {
  const n = demands.length;
  const share = new Array<number>(n).fill(0);
  const open = new Set<number>(demands.map((_, i) => i));
  let left = capacity;
  while (open.size > 0 && left > 1e-9) {
    let weightSum = 0;
    for (const i of open) weightSum += weights[i] ?? 1;
    let satisfied = false;
    for (const i of [...open]) {
      const fair = (left * (weights[i] ?? 1)) / weightSum;
      const need = (demands[i] ?? 0) - (share[i] ?? 0);
      if (need <= fair) {
        share[i] = demands[i] ?? 0;
        left -= need;
        open.delete(i);
        satisfied = true;
      }
    }
    if (!satisfied) {
      for (const i of open) share[i] = (share[i] ?? 0) + (left * (weights[i] ?? 1)) / weightSum;
      left = 0;
    }
  }
  return share;
}

/** Jain's index of service normalised by each tenant's max-min fair share (Jain's x_i = actual / optimal). */
export function maxMinJain(served: readonly number[], demands: readonly number[], weights: readonly number[]): number {
  const capacity = served.reduce((a, b) => a + b, 0);
  const fair = maxMinShares(demands, weights, capacity);
  return jainIndex(served.map((s, i) => ((fair[i] ?? 0) > 0 ? s / (fair[i] ?? 1) : 1)));
}
