// Reading an EndpointPickerConfig document: narrowing YAML values with errors that name the field's path in the
// file, the recognised apiVersions, and each plug-in entry (name defaults to type, names unique).
import { ConfigError, describe } from '../../core/index.js';

export const EPP_KIND = 'EndpointPickerConfig';
/** The Go EPP's group and llm-d-router's. */
export const EPP_API_VERSIONS: readonly string[] = ['inference.networking.x-k8s.io/v1alpha1', 'llm-d.ai/v1alpha1'];

export type Obj = Readonly<Record<string, unknown>>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function join(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${key}`;
}

export function asObject(v: unknown, path: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new ConfigError(path, `must be a mapping (got ${describe(v)})`);
  return v;
}

export function asList(v: unknown, path: string): readonly unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(path, `must be a list (got ${describe(v)})`);
  return v;
}

export function asString(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(path, `must be a non-empty string (got ${describe(v)})`);
  return v;
}

export function optionalString(v: unknown, path: string): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : asString(v, path);
}

export function asNumber(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(path, `must be a number (got ${describe(v)})`);
  return v;
}

export function optionalNumber(v: unknown, path: string): number | undefined {
  return v === undefined || v === null ? undefined : asNumber(v, path);
}

export function optionalBoolean(v: unknown, path: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError(path, `must be true or false (got ${describe(v)})`);
  return v;
}

/** Refuses keys the format does not have: a misspelt field must not be silently ignored. */
export function checkKeys(o: Obj, known: readonly string[], path: string): void {
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) {
      throw new ConfigError(join(path, key), `unknown field in an ${EPP_KIND} (known here: ${known.join(', ')})`);
    }
  }
}

/** True when the parsed YAML document is an EndpointPickerConfig rather than a Fairway configuration. */
export function isEndpointPickerConfig(doc: unknown): boolean {
  return isObject(doc) && doc['kind'] === EPP_KIND;
}

export function checkHeader(root: Obj): void {
  const apiVersion = root['apiVersion'];
  if (typeof apiVersion !== 'string' || !EPP_API_VERSIONS.includes(apiVersion)) {
    throw new ConfigError('apiVersion', `must be one of ${EPP_API_VERSIONS.join(', ')} (got ${describe(apiVersion)})`);
  }
}

export interface PluginSpec {
  readonly name: string;
  readonly type: string;
  readonly parameters: Obj;
  /** Where it is in the file, e.g. `plugins.2`. */
  readonly path: string;
}

/** `plugins`: each `{type, name?, parameters?}`, name defaulting to type, names unique. */
export function readPluginSpecs(v: unknown): Map<string, PluginSpec> {
  const specs = new Map<string, PluginSpec>();
  asList(v, 'plugins').forEach((raw, i) => {
    const path = `plugins.${i}`;
    const o = asObject(raw, path);
    checkKeys(o, ['name', 'type', 'parameters'], path);
    const type = asString(o['type'], `${path}.type`);
    const name = optionalString(o['name'], `${path}.name`) ?? type;
    if (specs.has(name)) throw new ConfigError(`${path}.name`, `plug-in name "${name}" is defined twice`);
    specs.set(name, { name, type, parameters: asObject(o['parameters'], `${path}.parameters`), path });
  });
  return specs;
}
