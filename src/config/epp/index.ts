// Public surface of src/config/epp: reading a Go EPP / llm-d-router EndpointPickerConfig as a Fairway configuration.
export { EPP_API_VERSIONS, EPP_KIND, isEndpointPickerConfig } from './document.js';
export { type EppTranslation, translateEndpointPickerConfig } from './translate.js';
export { PLUGIN_CATALOG, type PluginMapping } from './plugin-catalog.js';
export { parseGoDuration, parseQuantity } from './units.js';
