// Jain's fairness index: J(x) = (sum x)^2 / (n * sum x^2), in [1/n, 1]; 1 when every share is equal, 1/n when one
// party has everything.

/**
 * Jain's index of `shares` (each >= 0). Defined as 1 for no shares or all-zero shares: nobody got more than anybody.
 * O(n).
 */
export function jainIndex(shares: Iterable<number>): number {
  let n = 0;
  let sum = 0;
  let sumSquares = 0;
  for (const x of shares) {
    n++;
    sum += x;
    sumSquares += x * x;
  }
  if (n === 0 || sumSquares === 0) return 1;
  return (sum * sum) / (n * sumSquares);
}
