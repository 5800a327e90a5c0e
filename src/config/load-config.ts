// Turns YAML text into a validated, frozen FairwayConfig; every error names the path and the bad value.
// Pure: reading the file is the composition root's job.
import { parseAllDocuments, parseDocument, stringify } from 'yaml';
import { type ZodError } from 'zod';
import { ConfigError, describe } from '../core/index.js';
import { isEndpointPickerConfig, translateEndpointPickerConfig } from './epp/index.js';
import { ConfigSchema, type FairwayConfig } from './schema.js';

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function formatIssues(err: ZodError, input: unknown): ConfigError {
  const lines = err.issues.slice(0, 10).map((issue) => {
    const path = issue.path.map(String).join('.');
    const got = issue.code === 'unrecognized_keys' ? '' : ` (got ${describe(valueAt(input, issue.path))})`;
    return `${path === '' ? '(root)' : path}: ${issue.message}${got}`;
  });
  const first = err.issues[0];
  return new ConfigError(first === undefined ? '' : first.path.map(String).join('.'), lines.join('; '));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Validates an already-parsed document (for tests and embedded defaults). */
export function validateConfig(input: unknown): FairwayConfig {
  const result = ConfigSchema.safeParse(input ?? {});
  if (!result.success) throw formatIssues(result.error, input);
  return deepFreeze(result.data);
}

/** Parses YAML text into a plain document, not yet validated; `source` names the file in error messages. */
export function parseConfigDocument(text: string, source = 'config'): unknown {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.some((e) => e.code === 'MULTIPLE_DOCS')) {
    // A Kubernetes manifest (a ConfigMap beside a Deployment, say) rather than the configuration it carries.
    const docs = parseAllDocuments(text);
    const count = Array.isArray(docs) ? docs.length : 1;
    throw new ConfigError('', `${source}: holds ${count} YAML documents (a Kubernetes manifest?); give the configuration alone, e.g. the ConfigMap's data entry`);
  }
  if (doc.errors.length > 0) {
    throw new ConfigError('', `${source}: invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  return doc.toJS() as unknown;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `over` merged into `base` at every depth of plain objects; undefined values in `over` leave `base` as it is. */
function mergeDefined(base: Record<string, unknown>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(value) ? mergeDefined(isPlainObject(current) ? current : {}, value) : value;
  }
  return out;
}

export interface LoadedConfig {
  readonly config: FairwayConfig;
  /** `endpoint-picker`: the text was a Go EPP / llm-d-router EndpointPickerConfig, translated. */
  readonly format: 'fairway' | 'endpoint-picker';
  /** What a translated file asked for that Fairway does differently or not at all: log each once. */
  readonly notices: readonly string[];
}

/**
 * Parses and validates YAML text, a Fairway configuration or an EndpointPickerConfig (recognised by its `kind`);
 * `overrides` (e.g. command-line flags) are merged over the document's top-level sections first, so the result is
 * validated exactly once. Errors name the source and the field's path in that document.
 */
export function loadConfig(text: string, source = 'config', overrides: Readonly<Record<string, Record<string, unknown>>> = {}): LoadedConfig {
  const raw = parseConfigDocument(text, source) ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('', `${source}: the document must be a mapping`);
  try {
    if (isEndpointPickerConfig(raw)) {
      const translated = translateEndpointPickerConfig(raw);
      const config = validateConfig(mergeDefined(mergeDefined(translated.config, translated.fairwaySections), overrides));
      return { config, format: 'endpoint-picker', notices: translated.notices };
    }
    return { config: validateConfig(mergeDefined(raw as Record<string, unknown>, overrides)), format: 'fairway', notices: [] };
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError('', `${source}: ${err.message}`);
    throw err;
  }
}

/** {@link loadConfig} without the notices. */
export function parseConfig(text: string, source = 'config', overrides: Readonly<Record<string, Record<string, unknown>>> = {}): FairwayConfig {
  return loadConfig(text, source, overrides).config;
}

/** The configuration as Fairway YAML (what `fairway config check` prints); unlimited limits print as `unlimited`. */
export function formatConfig(config: FairwayConfig): string {
  return stringify(config, (_key, value: unknown) => (value === Infinity ? 'unlimited' : value));
}
