// Pure mapping from an InferencePool and one pod to the pod's endpoints: one per target port (data-parallel
// ranks each get their own endpoint and metrics), pod labels on each, engine from a pod label.
import { type EndpointSpec, type EngineName, ENGINE_NAMES } from '../datalayer/index.js';
import { ACTIVE_PORTS_ANNOTATION, type PodInfo, type PoolSpec, isRoutable, selectorMatches } from './resources.js';

/** Pod label naming the model server's engine (`vllm`, `sglang`, `trtllm`); absent: the pool's default engine. */
export const DEFAULT_ENGINE_LABEL = 'fairway.io/engine';

export interface EndpointMappingOptions {
  /** @default DEFAULT_ENGINE_LABEL */
  readonly engineLabel?: string;
  /** Told once per pod and value when the engine label names no known engine. */
  readonly onUnknownEngine?: (pod: string, value: string) => void;
}

function engineOf(pod: PodInfo, options: EndpointMappingOptions): EngineName | undefined {
  const value = pod.labels[options.engineLabel ?? DEFAULT_ENGINE_LABEL];
  if (value === undefined) return undefined;
  if ((ENGINE_NAMES as readonly string[]).includes(value)) return value as EngineName;
  options.onUnknownEngine?.(pod.name, value);
  return undefined;
}

/**
 * The target ports this pod serves: all of them, unless the pod narrows them with the Go EPP's
 * `inference.networking.k8s.io/active-ports` annotation (ports outside the pool's are ignored).
 */
export function activePorts(pod: PodInfo, pool: PoolSpec): readonly number[] {
  const annotation = pod.annotations[ACTIVE_PORTS_ANNOTATION];
  if (annotation === undefined) return pool.targetPorts;
  const listed = new Set(annotation.split(',').map((s) => Number(s.trim())));
  return pool.targetPorts.filter((p) => listed.has(p));
}

/** The endpoints `pod` contributes to `pool`: none unless it matches the selector and is routable. */
export function podEndpoints(pod: PodInfo, pool: PoolSpec, options: EndpointMappingOptions = {}): readonly EndpointSpec[] {
  if (!isRoutable(pod) || !selectorMatches(pool.selector, pod.labels) || pod.ip === undefined) return [];
  const engine = engineOf(pod, options);
  const labels = Object.freeze({ ...pod.labels });
  return activePorts(pod, pool).map((port) =>
    Object.freeze(engine === undefined ? { host: pod.ip as string, port, labels } : { host: pod.ip as string, port, labels, engine }),
  );
}
