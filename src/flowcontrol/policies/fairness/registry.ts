// The fairness plug-ins known by name.
import { Registry } from '../../../core/index.js';
import { type FairnessPolicy } from './fairness-policy.js';
import { globalStrictFairness } from './global-strict.js';
import { roundRobinFairness } from './round-robin.js';
import { weightedFairFairness } from './weighted-fair.js';

export function newFairnessRegistry(): Registry<FairnessPolicy> {
  return new Registry<FairnessPolicy>('fairness')
    .register(globalStrictFairness.name, globalStrictFairness)
    .register(roundRobinFairness.name, roundRobinFairness)
    .register(weightedFairFairness.name, weightedFairFairness);
}

export const fairnessPolicies = newFairnessRegistry();
