// The usage-limit plug-ins known by name; each entry builds a policy from its validated parameters.
import { Registry } from '../../../core/index.js';
import { type PriorityHoldbackOptions, priorityHoldback } from './priority-holdback.js';
import { staticUsageLimit } from './static-limit.js';
import { type UsageLimitPolicy } from './usage-limit-policy.js';

export type UsageLimitFactory = (params: PriorityHoldbackOptions) => UsageLimitPolicy;

export const usageLimitPolicies = new Registry<UsageLimitFactory>('usage-limit')
  .register('static', () => staticUsageLimit)
  .register('priority-holdback', (p) => priorityHoldback(p));
