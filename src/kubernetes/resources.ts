// The few fields Fairway reads from Kubernetes objects (Pods, InferencePools, InferenceObjectives), narrowed
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
