// Entry checks for FlowRequest: bad input is refused with an error naming the field, never queued.
import {
  InvalidArgumentError,
  requireFiniteNonNegative,
  requireIntegerInRange,
  requireNonEmptyString,
  requirePositive,
} from '../core/index.js';
import { type FlowRequest } from './types.js';

/** Priorities are integers in this range; anything beyond is a caller bug, not a real objective. */
export const MAX_ABS_PRIORITY = 1_000_000;
export const MAX_FAIRNESS_ID_LENGTH = 256;
/**
 * No single request costs more tokens than this. A larger figure is a caller bug or an attack (`max_tokens:
 * 1e308`) and would swamp the fairness counters of its whole band: refused on entry, clamped at release.
 */
export const MAX_REQUEST_COST = 1_000_000_000;

export function validateFlowRequest(r: FlowRequest): void {
  if (typeof r !== 'object' || r === null) throw new InvalidArgumentError('request', r, 'an object');
  requireNonEmptyString('request.fairnessId', r.fairnessId, MAX_FAIRNESS_ID_LENGTH);
  requireIntegerInRange('request.priority', r.priority, -MAX_ABS_PRIORITY, MAX_ABS_PRIORITY);
  requireFiniteNonNegative('request.byteSize', r.byteSize);
  requireFiniteNonNegative('request.estimatedCost', r.estimatedCost);
  if (r.estimatedCost > MAX_REQUEST_COST) {
    throw new InvalidArgumentError('request.estimatedCost', r.estimatedCost, `at most ${MAX_REQUEST_COST} tokens`);
  }
  if (r.ttlMs !== undefined) requirePositive('request.ttlMs', r.ttlMs);
  if (r.ttftSloMs !== undefined) requirePositive('request.ttftSloMs', r.ttftSloMs);
  if (r.deadlineAt !== undefined && (typeof r.deadlineAt !== 'number' || Number.isNaN(r.deadlineAt))) {
    throw new InvalidArgumentError('request.deadlineAt', r.deadlineAt, 'a clock time in ms');
  }
  if (r.arrivedAt !== undefined && (typeof r.arrivedAt !== 'number' || !Number.isFinite(r.arrivedAt))) {
    throw new InvalidArgumentError('request.arrivedAt', r.arrivedAt, 'a finite clock time in ms');
  }
}
