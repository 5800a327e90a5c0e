// `modelRewrites`: InferenceModelRewrite specs written in the config file, in the CRD's own shape so a spec can be
// copied between a cluster and a static deployment. List position stands for the CRD's creation time (earlier wins).
import { z } from 'zod';

/** The API's bounds on a target's weight. */
export const MAX_REWRITE_WEIGHT = 1_000_000;

const target = z.strictObject({
  modelRewrite: z.string().min(1),
  weight: z.number().int().min(1).max(MAX_REWRITE_WEIGHT).optional(),
});

const rule = z.strictObject({
  /** Any of these matches (OR); none matches every request. */
  matches: z
    .array(z.strictObject({ model: z.strictObject({ type: z.literal('Exact').default('Exact'), value: z.string().min(1) }) }))
    .default([]),
  targets: z
    .array(target)
    .min(1)
    .refine((ts) => ts.every((t) => t.weight === undefined) || ts.every((t) => t.weight !== undefined), {
      message: 'set a weight on every target or on none (targets without weights share equally)',
    }),
});

export const ModelRewriteSchema = z.strictObject({ name: z.string().min(1), rules: z.array(rule).min(1) });

export const ModelRewritesSchema = z
  .array(ModelRewriteSchema)
  .default([])
  .refine((list) => new Set(list.map((r) => r.name)).size === list.length, { message: 'rewrite names must be unique' });

export type ModelRewriteConfig = z.output<typeof ModelRewriteSchema>;
