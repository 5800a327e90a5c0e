// Option checks shared by the detectors: thresholds and the aggregation mode, validated once at construction.
import { InvalidArgumentError, requireFiniteNonNegative, requirePositive } from '../core/index.js';
import { type Aggregation, AGGREGATIONS, DEFAULT_AGGREGATION } from './aggregation.js';
import { DEFAULT_KV_THRESHOLD, DEFAULT_QUEUE_THRESHOLD, DEFAULT_STALENESS_MS } from './endpoint-score.js';

export interface UtilizationThresholds {
  /** Waiting requests at which an endpoint counts as full. @default 5 */
  readonly queueThreshold?: number;
  /** KV-cache usage in (0, 1] at which an endpoint counts as full. @default 0.8 */
  readonly kvThreshold?: number;
  /** Metrics older than this count as saturated. @default the pool's limit (DetectorDeps.stalenessMs), else 200 */
  readonly stalenessMs?: number;
  /** @default 'headroom' (see aggregation.ts for why) */
  readonly aggregation?: Aggregation;
}

export interface ResolvedThresholds {
  readonly queueThreshold: number;
  readonly kvThreshold: number;
  readonly stalenessMs: number;
  readonly aggregation: Aggregation;
}

/** `poolStalenessMs` is the pool's own limit, used when the options name none. */
export function resolveThresholds(options: UtilizationThresholds, poolStalenessMs?: number): ResolvedThresholds {
  const kvThreshold = requirePositive('kvThreshold', options.kvThreshold ?? DEFAULT_KV_THRESHOLD);
  if (kvThreshold > 1) throw new InvalidArgumentError('kvThreshold', kvThreshold, 'a fraction in (0, 1]');
  return {
    queueThreshold: requirePositive('queueThreshold', options.queueThreshold ?? DEFAULT_QUEUE_THRESHOLD),
    kvThreshold,
    stalenessMs: requirePositive('stalenessMs', options.stalenessMs ?? poolStalenessMs ?? DEFAULT_STALENESS_MS),
    aggregation: resolveAggregation(options.aggregation),
  };
}

export function resolveAggregation(value: Aggregation | undefined): Aggregation {
  const mode = value ?? DEFAULT_AGGREGATION;
  if (!AGGREGATIONS.includes(mode)) {
    throw new InvalidArgumentError('aggregation', mode, `one of ${AGGREGATIONS.join(', ')}`);
  }
  return mode;
}

/** An optional positive limit: undefined stays undefined (no limit). */
export function optionalPositive(field: string, value: number | undefined): number | undefined {
  return value === undefined ? undefined : requirePositive(field, value);
}

export function nonNegative(field: string, value: number): number {
  return requireFiniteNonNegative(field, value);
}
