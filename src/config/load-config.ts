// Turns YAML text into a validated, frozen FairwayConfig; every error names the path and the bad value.
// Pure: reading the file is the composition root's job.
import { parseDocument } from 'yaml';
import { type ZodError } from 'zod';
import { ConfigError, describe } from '../core/index.js';
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

/**
 * Parses and validates YAML text; `overrides` (e.g. command-line flags) are merged over the document's top-level
 * sections first, so the result is validated exactly once.
 */
export function parseConfig(text: string, source = 'config', overrides: Readonly<Record<string, Record<string, unknown>>> = {}): FairwayConfig {
  const raw = parseConfigDocument(text, source) ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('', `${source}: the document must be a mapping`);
  const doc = mergeDefined(raw as Record<string, unknown>, overrides);
  try {
    return validateConfig(doc);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError('', `${source}: ${err.message}`);
    throw err;
  }
}
