// Public surface of src/config: the schema of the configuration file and its validation.
export { ConfigSchema, type FairwayConfig, type FairwayConfigInput } from './schema.js';
export { parseConfig, parseConfigDocument, validateConfig } from './load-config.js';
export { ModelRewriteSchema, type ModelRewriteConfig, MAX_REWRITE_WEIGHT } from './model-rewrites.js';
export { type ReloadPlan, RESTART_ONLY_FIELDS, planReload, deepEqual } from './reload-plan.js';
