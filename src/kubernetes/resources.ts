// The few fields Fairway reads from Kubernetes objects (Pods, InferencePools, InferenceObjectives,
// InferenceModelRewrites), narrowed
// from `unknown`: list items arrive as the client's model classes, watch events as plain JSON, and both carry
// the same field names. Anything malformed is treated as absent, never thrown.

/** The InferencePool API groups Fairway follows, and the version it reads in each. */
export const POOL_GROUP_V1 = 'inference.networking.k8s.io';
export const POOL_GROUP_V1ALPHA2 = 'inference.networking.x-k8s.io';
export const OBJECTIVE_GROUP = 'inference.networking.x-k8s.io';
export const OBJECTIVE_VERSION = 'v1alpha2';
/** The Go EPP's pod annotation naming which of the pool's target ports a pod serves (comma list). */
export const ACTIVE_PORTS_ANNOTATION = 'inference.networking.k8s.io/active-ports';

export function poolVersionOf(group: string): string {
  return group === POOL_GROUP_V1ALPHA2 ? 'v1alpha2' : 'v1';
}

type Obj = Readonly<Record<string, unknown>>;

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v) ?? {})) if (typeof val === 'string') out[k] = val;
  return out;
}

function port(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65_535 ? v : undefined;
}

export interface ObjectKey {
  readonly namespace: string;
  readonly name: string;
}

export function objectKey(o: unknown): ObjectKey | undefined {
  const meta = obj(obj(o)?.metadata);
  const name = str(meta?.name);
  if (name === undefined) return undefined;
  return { namespace: str(meta?.namespace) ?? '', name };
}

/** What the endpoint list needs of a pod. */
export interface PodInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly ip: string | undefined;
  /** PodReady is True. */
  readonly ready: boolean;
  /** A deletionTimestamp is set: the pod is terminating. */
  readonly terminating: boolean;
}

export function parsePod(o: unknown): PodInfo | undefined {
  const root = obj(o);
  const meta = obj(root?.metadata);
  const name = str(meta?.name);
  if (root === undefined || meta === undefined || name === undefined) return undefined;
  const status = obj(root.status);
  const conditions = Array.isArray(status?.conditions) ? status.conditions : [];
  const readyCondition = conditions.map(obj).find((c) => c?.type === 'Ready');
  const deletion = meta.deletionTimestamp;
  return {
    name,
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
    ip: str(status?.podIP) || undefined,
    ready: readyCondition?.status === 'True',
    terminating: deletion !== undefined && deletion !== null,
  };
}

/** Routable: Ready, has an IP, not terminating (the Go EPP's rule plus the IP it needs anyway). */
export function isRoutable(pod: PodInfo): boolean {
  return pod.ready && !pod.terminating && pod.ip !== undefined;
}

/** An InferencePool reduced to what selects and addresses its endpoints. */
export interface PoolSpec {
  readonly name: string;
  readonly namespace: string;
  /** Equality-based selector (matchLabels); a pod matches when it has every pair. */
  readonly selector: Readonly<Record<string, string>>;
  readonly targetPorts: readonly number[];
  readonly terminating: boolean;
}

/**
 * Reads `inference.networking.k8s.io/v1` (`spec.selector.matchLabels`, `spec.targetPorts[].number`) or the older
 * `inference.networking.x-k8s.io/v1alpha2` (`spec.selector` as a plain map, `spec.targetPortNumber`).
 * Returns undefined when the object has no usable selector or port.
 */
export function parseInferencePool(o: unknown): PoolSpec | undefined {
  const root = obj(o);
  const key = objectKey(o);
  const spec = obj(root?.spec);
  if (root === undefined || key === undefined || spec === undefined) return undefined;
  const rawSelector = obj(spec.selector);
  const matchLabels = obj(rawSelector?.matchLabels);
  const selector = stringMap(matchLabels ?? rawSelector);
  const ports: number[] = [];
  if (Array.isArray(spec.targetPorts)) {
    for (const p of spec.targetPorts) {
      const n = port(obj(p)?.number);
      if (n !== undefined && !ports.includes(n)) ports.push(n);
    }
  }
  const legacy = port(spec.targetPortNumber);
  if (ports.length === 0 && legacy !== undefined) ports.push(legacy);
  if (Object.keys(selector).length === 0 || ports.length === 0) return undefined;
  const deletion = obj(root.metadata)?.deletionTimestamp;
  return { ...key, selector, targetPorts: ports, terminating: deletion !== undefined && deletion !== null };
}

export interface ObjectiveSpec {
  readonly name: string;
  /** `spec.priority`; absent means 0. */
  readonly priority: number;
  readonly poolName: string | undefined;
  readonly poolGroup: string;
  readonly terminating: boolean;
}

export function parseInferenceObjective(o: unknown): ObjectiveSpec | undefined {
  const root = obj(o);
  const key = objectKey(o);
  if (root === undefined || key === undefined) return undefined;
  const spec = obj(root.spec);
  const poolRef = obj(spec?.poolRef);
  const p = spec?.priority;
  const priority = typeof p === 'number' && Number.isInteger(p) ? p : 0;
  const deletion = obj(root.metadata)?.deletionTimestamp;
  return {
    name: key.name,
    priority,
    poolName: str(poolRef?.name),
    // The CRD defaults poolRef.group to the v1 group.
    poolGroup: str(poolRef?.group) || POOL_GROUP_V1,
    terminating: deletion !== undefined && deletion !== null,
  };
}

export function selectorMatches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const key in selector) if (labels[key] !== selector[key]) return false;
  return true;
}

export const REWRITE_GROUP = 'inference.networking.x-k8s.io';
export const REWRITE_VERSION = 'v1alpha2';
/** The API's bounds on a target's weight. */
const MAX_REWRITE_WEIGHT = 1_000_000;

/** One InferenceModelRewrite, in the shape of its spec (the config file's `modelRewrites` entries share it). */
export interface ModelRewriteObject {
  readonly name: string;
  /** `metadata.creationTimestamp` in ms since the epoch; an object without one sorts after those with one. */
  readonly createdAt: number;
  readonly poolName: string | undefined;
  readonly poolGroup: string;
  readonly terminating: boolean;
  readonly rules: readonly {
    readonly matches: readonly { readonly model: { readonly type: 'Exact'; readonly value: string } }[];
    readonly targets: readonly { readonly modelRewrite: string; readonly weight?: number }[];
  }[];
}

export type ParsedModelRewrite =
  | { readonly ok: true; readonly rewrite: ModelRewriteObject }
  | { readonly ok: false; readonly name: string; readonly reason: string };

/**
 * Reads `inference.networking.x-k8s.io/v1alpha2` InferenceModelRewrite: `spec.poolRef`, `spec.rules[].matches[]
 * .model {type: Exact, value}` (none: every request) and `spec.rules[].targets[] {modelRewrite, weight}`. Checks
 * what the CRD's schema states (only `Exact` matching, weights 1..1,000,000 on all targets of a rule or on none;
 * a weight of 0 is the Go client's unset value) and refuses the whole object otherwise, naming the field.
 */
export function parseInferenceModelRewrite(o: unknown): ParsedModelRewrite | undefined {
  const root = obj(o);
  const key = objectKey(o);
  if (root === undefined || key === undefined) return undefined;
  const meta = obj(root.metadata);
  const spec = obj(root.spec);
  const poolRef = obj(spec?.poolRef);
  const fail = (reason: string): ParsedModelRewrite => ({ ok: false, name: key.name, reason });
  const rawRules: unknown[] = Array.isArray(spec?.rules) ? spec.rules : [];
  const rules: ModelRewriteObject['rules'][number][] = [];
  for (const [i, raw] of rawRules.entries()) {
    const rule = obj(raw);
    const matches: { model: { type: 'Exact'; value: string } }[] = [];
    for (const [j, m] of (Array.isArray(rule?.matches) ? rule.matches : []).entries()) {
      const model = obj(obj(m)?.model);
      const value = str(model?.value);
      const type = model?.type ?? 'Exact';
      if (value === undefined || value === '') return fail(`spec.rules[${i}].matches[${j}].model.value: a model name is required`);
      if (type !== 'Exact') return fail(`spec.rules[${i}].matches[${j}].model.type: only Exact is supported, got ${JSON.stringify(type)}`);
      matches.push({ model: { type: 'Exact', value } });
    }
    const targets: { modelRewrite: string; weight?: number }[] = [];
    for (const [j, t] of (Array.isArray(rule?.targets) ? rule.targets : []).entries()) {
      const target = obj(t);
      const model = str(target?.modelRewrite);
      if (model === undefined || model === '') return fail(`spec.rules[${i}].targets[${j}].modelRewrite: a model name is required`);
      const w = target?.weight;
      if (w === undefined || w === null || w === 0) targets.push({ modelRewrite: model });
      else if (typeof w === 'number' && Number.isInteger(w) && w >= 1 && w <= MAX_REWRITE_WEIGHT) targets.push({ modelRewrite: model, weight: w });
      else return fail(`spec.rules[${i}].targets[${j}].weight: an integer in [1, ${MAX_REWRITE_WEIGHT}], got ${JSON.stringify(w)}`);
    }
    const weighted = targets.filter((t) => t.weight !== undefined).length;
    if (weighted !== 0 && weighted !== targets.length) return fail(`spec.rules[${i}].targets: set a weight on every target or on none`);
    rules.push({ matches, targets });
  }
  const created = Date.parse(str(meta?.creationTimestamp) ?? '');
  const deletion = meta?.deletionTimestamp;
  return {
    ok: true,
    rewrite: {
      name: key.name,
      createdAt: Number.isFinite(created) ? created : Number.MAX_SAFE_INTEGER,
      poolName: str(poolRef?.name),
      // The CRD defaults poolRef.group to the v1 group.
      poolGroup: str(poolRef?.group) || POOL_GROUP_V1,
      terminating: deletion !== undefined && deletion !== null,
      rules,
    },
  };
}
