// The band-arbitration plug-ins known by name; each entry builds a fresh policy (weighted keeps stride state).
import { Registry } from '../../../core/index.js';
import { type ArbitrationPolicy } from './arbitration-policy.js';
import { strictArbitration } from './strict.js';
import { type WeightedArbitrationOptions, weightedArbitration } from './weighted.js';

export type ArbitrationFactory = (params: WeightedArbitrationOptions) => ArbitrationPolicy;

export const arbitrationPolicies = new Registry<ArbitrationFactory>('arbitration')
  .register('strict', () => strictArbitration)
  .register('weighted', (p) => weightedArbitration(p));
