// Public surface of src/config: the schema of the configuration file and its validation.
export { ConfigSchema, type FairwayConfig, type FairwayConfigInput } from './schema.js';
export { type LoadedConfig, formatConfig, loadConfig, parseConfig, parseConfigDocument, validateConfig } from './load-config.js';
export { EPP_API_VERSIONS, isEndpointPickerConfig, translateEndpointPickerConfig, type EppTranslation } from './epp/index.js';
export { ModelRewriteSchema, type ModelRewriteConfig, MAX_REWRITE_WEIGHT } from './model-rewrites.js';
export { type ReloadPlan, RESTART_ONLY_FIELDS, planReload, deepEqual } from './reload-plan.js';
