// The ordering plug-ins known by name.
import { Registry } from '../../../core/index.js';
import { edfOrdering } from './edf.js';
import { fcfsOrdering } from './fcfs.js';
import { type OrderingPolicy } from './ordering-policy.js';
import { sloDeadlineOrdering } from './slo-deadline.js';

export function newOrderingRegistry(): Registry<OrderingPolicy> {
  return new Registry<OrderingPolicy>('ordering')
    .register(fcfsOrdering.name, fcfsOrdering)
    .register(edfOrdering.name, edfOrdering)
    .register(sloDeadlineOrdering.name, sloDeadlineOrdering);
}

export const orderingPolicies = newOrderingRegistry();
