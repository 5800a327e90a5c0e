// Who is asking and how much it matters: tenant (fairness id) and priority from the request headers, through a
// configurable trust boundary. Clients can claim any priority, so operators decide which headers count.
import { CONTROL_HEADERS, controlHeaderValue } from './control-headers.js';

export const DEFAULT_FAIRNESS_ID = 'default-flow';
export const MAX_HEADER_ID_LENGTH = 256;

/** Where objective priorities come from (a Map, or a live view such as Kubernetes InferenceObjectives). */
export interface ObjectiveLookup {
  /** The priority of objective `name`, or undefined when it is not defined. O(1): it runs on every request. */
  get(name: string): number | undefined;
}

export interface IdentityOptions {
  /** InferenceObjective name -> priority. Unknown or absent objectives get priority 0. */
  readonly objectives: ObjectiveLookup;
  /**
   * `trusted`: take the objective and fairness-id headers (either spelling, see control-headers.ts) as sent (the
   * proxy in front authenticated them).
   * `strip`: ignore them; every request is `default-flow` at priority 0 unless `tenantHeader` names the tenant.
   */
  readonly mode: 'trusted' | 'strip';
  /** Header an authenticating proxy sets to the caller's identity; when present it is the tenant. */
  readonly tenantHeader?: string;
  /** Highest priority each tenant may claim; a claim above it is clamped. */
  readonly priorityCaps: ReadonlyMap<string, number>;
  /** Cap for tenants not listed in `priorityCaps`; undefined for none. */
  readonly defaultPriorityCap?: number;
}

export interface RequestIdentity {
  readonly fairnessId: string;
  readonly objective: string | undefined;
  readonly priority: number;
}

function usable(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  return v.length > 0 && v.length <= MAX_HEADER_ID_LENGTH ? v : undefined;
}

export function resolveIdentity(headers: ReadonlyMap<string, string>, options: IdentityOptions): RequestIdentity {
  const trusted = options.mode === 'trusted';
  const fromAuth = options.tenantHeader !== undefined ? usable(headers.get(options.tenantHeader)) : undefined;
  // llm-d-router's names and ours are aliases (see control-headers.ts): the same trust rules apply to both.
  const claimed = trusted ? usable(controlHeaderValue(headers, CONTROL_HEADERS.fairnessId)) : undefined;
  const fairnessId = fromAuth ?? claimed ?? DEFAULT_FAIRNESS_ID;
  const objective = trusted ? usable(controlHeaderValue(headers, CONTROL_HEADERS.objective)) : undefined;
  const wanted = objective !== undefined ? (options.objectives.get(objective) ?? 0) : 0;
  const cap = options.priorityCaps.get(fairnessId) ?? options.defaultPriorityCap;
  return { fairnessId, objective, priority: cap !== undefined ? Math.min(wanted, cap) : wanted };
}
