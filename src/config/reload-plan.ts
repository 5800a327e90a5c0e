// What a configuration reload may change in a running process, and what waits for a restart. Pure: it compares
// two validated configurations (from YAML, or from a translated EndpointPickerConfig) and returns the one to
// apply, which keeps the running value of every restart-only field, and names those fields for the log.
import { type FairwayConfig } from './schema.js';
import { validateConfig } from './load-config.js';

/**
 * Fields bound at start-up: listening sockets and TLS, scrape loops, the Kubernetes connection and leader
 * election, logging and tracing set-up, the seeded random source. Everything else applies live.
 */
export const RESTART_ONLY_FIELDS: readonly string[] = [
  'server.host',
  'server.grpcPort',
  'server.healthPort',
  'server.metricsPort',
  'server.proxyPort',
  'server.tls',
  'server.maxBodyBytes',
  // The ext_proc service reads it when it is built.
  'server.extProc',
  'pool.metrics',
  'pool.models',
  'pool.unreachableAfterMs',
  'pool.unresponsiveAfterMs',
  'kubernetes',
  'logging',
  'tracing',
  'scheduler.seed',
  // The prefix hasher and index are built at start-up.
  'scheduler.prefix',
  // The front ends read it when they are built.
  'flowControl.inflightEviction.startedResponses',
];

export interface ReloadPlan {
  /** The configuration to apply: `next`, with the running value of each restart-only field that changed. */
  readonly effective: FairwayConfig;
  /** Restart-only fields whose new value is not applied (dotted paths). */
  readonly restartRequired: readonly string[];
  /** Live fields (top-level sections, or section.field) whose value changes. */
  readonly changed: readonly string[];
}

function at(root: unknown, path: string): unknown {
  let cur = root;
  for (const key of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function setAt(root: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = root;
  for (const key of keys.slice(0, -1)) {
    const next = cur[key];
    if (typeof next !== 'object' || next === null) return;
    cur = next as Record<string, unknown>;
  }
  const last = keys[keys.length - 1] as string;
  if (value === undefined) delete cur[last];
  else cur[last] = structuredClone(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return Number.isNaN(a) && Number.isNaN(b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Live fields reported as changed, one level into each section (e.g. `flowControl.bands`). */
function changedFields(running: FairwayConfig, next: FairwayConfig): string[] {
  const out: string[] = [];
  for (const section of Object.keys(next) as (keyof FairwayConfig)[]) {
    const a = running[section] as unknown;
    const b = next[section] as unknown;
    if (deepEqual(a, b)) continue;
    const isMap = section === 'objectives' || section === 'tenants';
    if (isMap || typeof b !== 'object' || b === null || Array.isArray(b)) {
      out.push(section);
      continue;
    }
    for (const key of new Set([...Object.keys(a as object), ...Object.keys(b)])) {
      const path = `${section}.${key}`;
      if (RESTART_ONLY_FIELDS.some((r) => path === r || path.startsWith(`${r}.`) || r.startsWith(`${path}.`))) continue;
      if (!deepEqual(at(a, key), at(b, key))) out.push(path);
    }
  }
  return out.filter((p) => !RESTART_ONLY_FIELDS.includes(p));
}

export function planReload(running: FairwayConfig, next: FairwayConfig): ReloadPlan {
  const restartRequired = RESTART_ONLY_FIELDS.filter((path) => !deepEqual(at(running, path), at(next, path)));
  const changed = changedFields(running, next);
  if (restartRequired.length === 0) return { effective: next, restartRequired, changed };
  const merged = structuredClone(next) as unknown as Record<string, unknown>;
  for (const path of restartRequired) setAt(merged, path, at(running, path));
  return { effective: validateConfig(merged), restartRequired, changed };
}
