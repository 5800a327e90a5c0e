// Profile configuration: the validated document shape, the default profile, and building a profile from it.
import { z } from 'zod';
import { ConfigError } from '../core/index.js';
import { SATURATION_FILTER } from './filters/saturation-filter.js';
import { MAX_SCORE_PICKER } from './pickers/max-score-picker.js';
import { createBuiltinRegistries } from './builtin-plugins.js';
import { type SchedulerRegistries } from './plugin-registries.js';
import { SchedulerProfile } from './profile.js';
import { INFLIGHT_LOAD_SCORER } from './scorers/inflight-load-scorer.js';
import { KV_CACHE_SCORER } from './scorers/kv-cache-scorer.js';
import { LORA_AFFINITY_SCORER } from './scorers/lora-affinity-scorer.js';
import { PREFIX_CACHE_SCORER } from './scorers/prefix-cache-scorer.js';
import { QUEUE_SCORER } from './scorers/queue-scorer.js';

const pluginRef = z.object({ type: z.string().min(1), parameters: z.unknown().optional() }).strict();

export const ProfileConfigSchema = z
  .object({
    filters: z.array(pluginRef),
    scorers: z.array(pluginRef.extend({ weight: z.number().nonnegative().finite() }).strict()),
    picker: pluginRef,
  })
  .strict();

export type ProfileConfig = z.infer<typeof ProfileConfigSchema>;

/**
 * The Go reference's default (queue x2, KV cache x2, prefix cache x3, max-score) plus ours: stale/saturated
 * endpoints filtered (fail open), in-flight awareness x2 so a burst between two scrapes spreads out, and LoRA
 * affinity x2 (the Go EPP's own routing tests add it) so an adapter request goes where its adapter is loaded, or
 * there is room to load it. With no adapter in use on any candidate the LoRA scorer scores nothing, so pools
 * without LoRA route exactly as before. With prefix x3 against in-flight x2, an equal prefix still follows its
 * endpoint until that endpoint runs out of headroom, then the saturation filter moves it elsewhere.
 */
export const DEFAULT_PROFILE_CONFIG: ProfileConfig = Object.freeze({
  filters: [{ type: SATURATION_FILTER }],
  scorers: [
    { type: QUEUE_SCORER, weight: 2 },
    { type: KV_CACHE_SCORER, weight: 2 },
    { type: PREFIX_CACHE_SCORER, weight: 3 },
    { type: INFLIGHT_LOAD_SCORER, weight: 2 },
    { type: LORA_AFFINITY_SCORER, weight: 2 },
  ],
  picker: { type: MAX_SCORE_PICKER },
});

/** Validates `config` (unknown: straight from YAML/JSON) and instantiates its plug-ins. Throws ConfigError. */
export function buildProfile(
  config: unknown,
  registries: SchedulerRegistries = createBuiltinRegistries(),
  path = 'scheduler.profile',
): SchedulerProfile {
  const parsed = ProfileConfigSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? path : `${path}.${issue.path.join('.')}`;
    throw new ConfigError(where, issue?.message ?? 'invalid profile');
  }
  const c = parsed.data;
  const known = (family: { has(n: string): boolean; names(): string[] }, type: string, at: string): void => {
    if (!family.has(type)) throw new ConfigError(at, `unknown plug-in "${type}"; known: ${family.names().join(', ')}`);
  };
  const filters = c.filters.map((f, i) => {
    known(registries.filters, f.type, `${path}.filters.${i}.type`);
    return registries.filters.get(f.type).create(f.parameters, `${path}.filters.${i}.parameters`);
  });
  const scorers = c.scorers.map((s, i) => {
    known(registries.scorers, s.type, `${path}.scorers.${i}.type`);
    return { scorer: registries.scorers.get(s.type).create(s.parameters, `${path}.scorers.${i}.parameters`), weight: s.weight };
  });
  known(registries.pickers, c.picker.type, `${path}.picker.type`);
  const picker = registries.pickers.get(c.picker.type).create(c.picker.parameters, `${path}.picker.parameters`);
  return new SchedulerProfile(filters, scorers, picker);
}

export function createDefaultProfile(): SchedulerProfile {
  return buildProfile(DEFAULT_PROFILE_CONFIG);
}
