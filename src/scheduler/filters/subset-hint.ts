// The proxy's subset hint (`x-gateway-destination-endpoint-subset`): a hard restriction, never failed open.
import { type EndpointSnapshot } from '../../datalayer/index.js';

/**
 * Candidates whose id is in `hint`; `undefined` means no hint (all candidates). An empty hint or one that matches
 * nothing yields no candidate, which the caller turns into 503. O(pool + hint).
 */
export function applySubsetHint(
  endpoints: readonly EndpointSnapshot[],
  hint: readonly string[] | undefined,
): readonly EndpointSnapshot[] {
  if (hint === undefined) return endpoints;
  if (hint.length === 0) return [];
  if (hint.length === 1) return endpoints.filter((e) => e.id === hint[0]);
  const wanted = new Set(hint);
  return endpoints.filter((e) => wanted.has(e.id));
}
