// Named registry of saturation detectors: config names a detector and passes raw options, which are
// checked against a strict schema here (typos are errors, not silently ignored keys).
import { z } from 'zod';
import { ConfigError, Registry } from '../core/index.js';
import { AGGREGATIONS } from './aggregation.js';
import { type DetectorDeps, type SaturationDetector } from './cached-detector.js';
import { CONCURRENCY_MODES, ConcurrencyDetector } from './concurrency-detector.js';
import { HybridDetector } from './hybrid-detector.js';
import { UtilizationDetector } from './utilization-detector.js';

/** Builds a detector from its dependencies and raw (unvalidated) options from config. */
export type SaturationDetectorFactory = (deps: DetectorDeps, options?: unknown) => SaturationDetector;

/** @default 'hybrid' */
export const DEFAULT_SATURATION_DETECTOR = 'hybrid';

const positive = z.number().positive().finite();
const thresholds = {
  queueThreshold: positive.optional(),
  kvThreshold: positive.max(1).optional(),
  stalenessMs: positive.optional(),
  aggregation: z.enum(AGGREGATIONS).optional(),
};

const utilizationSchema = z.strictObject(thresholds);
const concurrencySchema = z.strictObject({
  maxRequests: positive.optional(),
  maxTokens: positive.optional(),
  mode: z.enum(CONCURRENCY_MODES).optional(),
  aggregation: z.enum(AGGREGATIONS).optional(),
});
const hybridSchema = z.strictObject({
  ...thresholds,
  unseenRequestWeight: z.number().nonnegative().finite().optional(),
  unseenTokenWeight: z.number().nonnegative().finite().optional(),
  queuedTokenWeight: z.number().nonnegative().finite().optional(),
  finishedRequestCredit: z.number().nonnegative().finite().optional(),
  maxRequests: positive.optional(),
  maxTokens: positive.optional(),
  slotLimit: positive.optional(),
  learnSlotLimit: z.boolean().optional(),
  maxNumBatchedTokens: z.number().nonnegative().finite().optional(),
});

function parse<T>(name: string, schema: z.ZodType<T>, raw: unknown): T {
  const result = schema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = ['saturation', name, ...(issue?.path ?? []).map(String)].join('.');
  throw new ConfigError(path, issue?.message ?? 'invalid options');
}

/** A fresh registry holding the built-in detectors; callers may register more. */
export function createSaturationDetectorRegistry(): Registry<SaturationDetectorFactory> {
  return new Registry<SaturationDetectorFactory>('saturation detector')
    .register('utilization', (deps, raw) => new UtilizationDetector(deps, parse('utilization', utilizationSchema, raw)))
    .register('concurrency', (deps, raw) => new ConcurrencyDetector(deps, parse('concurrency', concurrencySchema, raw)))
    .register('hybrid', (deps, raw) => new HybridDetector(deps, parse('hybrid', hybridSchema, raw)));
}
