// The request mix: Zipf-skewed tenants over a population of flows, priorities spread uniformly over the bands.
// Requests are built before timing starts, so the measured loops contain only the engine (or p-queue) work.
import { SeededRandom, randomInt } from '../../src/core/index.js';
import { type FlowRequest } from '../../src/flowcontrol/index.js';
import { ZipfSampler } from './zipf.js';

/** Zipf exponent of tenant popularity: rank 1 gets ~2x the traffic of rank 2, a long tail of small tenants. */
export const ZIPF_EXPONENT = 1.0;

export interface Mix {
  readonly flows: number;
  readonly bands: number;
}

const tenantTables = new Map<number, readonly string[]>();

/** Tenant ids are interned once per population so requests share them, as parsed headers would not (cheaper here). */
export function tenantIds(flows: number): readonly string[] {
  let ids = tenantTables.get(flows);
  if (ids === undefined) {
    ids = Array.from({ length: flows }, (_, i) => `tenant-${i}`);
    tenantTables.set(flows, ids);
  }
  return ids;
}

/** `n` requests of the mix; the same seed gives the same requests. */
export function makeRequests(n: number, mix: Mix, seed: number): FlowRequest[] {
  const random = new SeededRandom(seed);
  const zipf = new ZipfSampler(mix.flows, ZIPF_EXPONENT, random);
  const ids = tenantIds(mix.flows);
  const out = new Array<FlowRequest>(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      id: `r${i}`,
      fairnessId: ids[zipf.next()] ?? 'tenant-0',
      priority: mix.bands === 1 ? 0 : randomInt(random, mix.bands),
      byteSize: 2_048,
      estimatedCost: 256 + randomInt(random, 1_792),
    };
  }
  return out;
}

/** Distinct fairness ids among `requests`: how many flows a run actually touched. */
export function distinctTenants(requests: readonly FlowRequest[]): number {
  return new Set(requests.map((r) => r.fairnessId)).size;
}
