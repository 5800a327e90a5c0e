// The Kubernetes EndpointSource: follows one InferencePool (v1, or the older v1alpha2 shape) and the pods of its
// namespace, and publishes Ready pod x target port as endpoints. Like the Go EPP it watches every pod of the
// namespace and applies the pool's selector itself, so a selector change applies at once, with no relist.
import { type Clock, type Logger, type Random, noopLogger } from '../core/index.js';
import { type EndpointSource, type EndpointSpec, endpointId } from '../datalayer/index.js';
import { type ApiReachability } from './api-reachability.js';
import { type KubeClients, asList } from './kube-clients.js';
import { type EndpointMappingOptions, podEndpoints } from './pool-endpoints.js';
import { type PodInfo, type PoolSpec, objectKey, parseInferencePool, parsePod, poolVersionOf } from './resources.js';
import { ResourceWatch, type WatchTuning, sharedWatchOptions } from './resource-watch.js';

export interface PoolRef {
  readonly name: string;
  readonly namespace: string;
  /** `inference.networking.k8s.io` (v1) or `inference.networking.x-k8s.io` (v1alpha2). */
  readonly group: string;
}

/** What every watch serving one pool is built from (the pool's own, and those of objects attached to it). */
export interface PoolWatchOptions extends WatchTuning {
  readonly clients: KubeClients;
  readonly pool: PoolRef;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  /** Reachability of the API server, as the watches see it. */
  readonly onReachable?: (reachable: boolean) => void;
  /** One log line for all the pool's watches when the API server goes away or returns (see ApiReachability). */
  readonly reachability?: ApiReachability;
}

export interface InferencePoolSourceOptions extends PoolWatchOptions, EndpointMappingOptions {}

/** The logger of a pool's watches: the pool's namespace/name on every line. */
export function poolLogger(o: PoolWatchOptions): Logger {
  return (o.logger ?? noopLogger).child({ pool: `${o.pool.namespace}/${o.pool.name}` });
}

type Listener = (endpoints: readonly EndpointSpec[]) => void;

/**
 * Cost per pod event: O(target ports) to map the pod, and, when its endpoints changed, one O(endpoints) publish
 * per microtask however many events arrived in it (a relist of 1,000 pods publishes once). A pod event that
 * leaves its endpoints as they were (most status updates) publishes nothing.
 */
export class InferencePoolEndpointSource implements EndpointSource {
  private readonly logger: Logger;
  private readonly poolWatch: ResourceWatch;
  private readonly podWatch: ResourceWatch;
  private readonly listeners = new Set<Listener>();
  /** Endpoints of each pod (only pods that have some). */
  private readonly byPod = new Map<string, readonly EndpointSpec[]>();
  private pool: PoolSpec | undefined;
  private endpoints: readonly EndpointSpec[] = Object.freeze([]);
  private publishScheduled = false;
  private readonly unknownEngines = new Set<string>();
  private readonly reachability = new Map<ResourceWatch, boolean>();
  private reachable = true;

  constructor(private readonly o: InferencePoolSourceOptions) {
    this.logger = poolLogger(o);
    const { clients, pool } = o;
    const version = poolVersionOf(pool.group);
    const common = sharedWatchOptions({ ...o, kubeConfig: clients.config }, this.logger);
    const fieldSelector = `metadata.name=${pool.name}`;
    this.poolWatch = new ResourceWatch({
      ...common,
      path: `/apis/${pool.group}/${version}/namespaces/${pool.namespace}/inferencepools`,
      fieldSelector,
      list: async () =>
        asList(
          await clients.custom.listNamespacedCustomObject({ group: pool.group, version, namespace: pool.namespace, plural: 'inferencepools', fieldSelector }),
        ),
      what: { resource: 'inferencepools', group: pool.group, namespace: pool.namespace },
      onAdd: (obj) => this.poolChanged(obj),
      onUpdate: (obj) => this.poolChanged(obj),
      onDelete: (obj) => this.poolDeleted(obj),
      onReachable: (r) => this.setReachable(this.poolWatch, r),
    });
    this.podWatch = new ResourceWatch({
      ...common,
      path: `/api/v1/namespaces/${pool.namespace}/pods`,
      list: () => clients.core.listNamespacedPod({ namespace: pool.namespace }),
      what: { resource: 'pods', group: '', namespace: pool.namespace },
      onAdd: (obj) => this.podChanged(obj),
      onUpdate: (obj) => this.podChanged(obj),
      onDelete: (obj) => this.podDeleted(obj),
      onReachable: (r) => this.setReachable(this.podWatch, r),
    });
  }

  /** Lists the pool and the pods and starts watching; rejects on RBAC denials or a missing CRD. */
  async start(): Promise<void> {
    await Promise.all([this.poolWatch.start(), this.podWatch.start()]);
    if (this.pool === undefined) {
      this.logger.warn({}, 'InferencePool not found (or has no selector/target ports); no endpoints until it appears');
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.poolWatch.stop(), this.podWatch.stop()]);
    this.listeners.clear();
  }

  /** The pool exists and both watches have listed: what readiness waits for (as the Go EPP's "pool synced"). */
  get poolSynced(): boolean {
    return this.pool !== undefined && this.poolWatch.isSynced && this.podWatch.isSynced;
  }

  get apiReachable(): boolean {
    return this.reachable;
  }

  get currentPool(): PoolSpec | undefined {
    return this.pool;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    listener(this.endpoints);
    return () => {
      this.listeners.delete(listener);
    };
  }

  current(): readonly EndpointSpec[] {
    return this.endpoints;
  }

  private poolChanged(obj: unknown): void {
    const key = objectKey(obj);
    if (key?.name !== this.o.pool.name) return;
    const spec = parseInferencePool(obj);
    if (spec === undefined || spec.terminating) {
      if (spec === undefined) this.logger.warn({}, 'InferencePool has no usable selector or target ports; no endpoints');
      this.setPool(undefined);
      return;
    }
    this.setPool(spec);
  }

  private poolDeleted(obj: unknown): void {
    if (objectKey(obj)?.name !== this.o.pool.name) return;
    this.logger.warn({}, 'InferencePool deleted; no endpoints until it is back');
    this.setPool(undefined);
  }

  private setPool(spec: PoolSpec | undefined): void {
    const before = this.pool;
    this.pool = spec;
    if (spec !== undefined && before !== undefined && sameSelection(before, spec)) return;
    if (spec !== undefined) this.logger.info({ selector: spec.selector, targetPorts: spec.targetPorts }, 'InferencePool selection');
    // Selector or ports changed: every pod is mapped again, from the pod cache (no API call).
    this.byPod.clear();
    if (spec !== undefined) {
      for (const obj of this.podWatch.objects()) {
        const pod = parsePod(obj);
        if (pod !== undefined) this.mapPod(pod, spec);
      }
    }
    this.schedulePublish();
  }

  private podChanged(obj: unknown): void {
    const pod = parsePod(obj);
    if (pod === undefined || this.pool === undefined) return;
    if (this.mapPod(pod, this.pool)) this.schedulePublish();
  }

  private podDeleted(obj: unknown): void {
    const key = objectKey(obj);
    if (key !== undefined && this.byPod.delete(key.name)) this.schedulePublish();
  }

  /** Updates one pod's endpoints; true when they changed. */
  private mapPod(pod: PodInfo, pool: PoolSpec): boolean {
    const next = podEndpoints(pod, pool, { engineLabel: this.o.engineLabel, onUnknownEngine: (p, v) => this.unknownEngine(p, v) });
    const before = this.byPod.get(pod.name);
    if (next.length === 0) return this.byPod.delete(pod.name);
    if (before !== undefined && sameEndpoints(before, next)) return false;
    this.byPod.set(pod.name, next);
    return true;
  }

  private unknownEngine(pod: string, value: string): void {
    if (this.unknownEngines.has(value)) return;
    this.unknownEngines.add(value);
    this.logger.warn({ pod, value, label: this.o.engineLabel }, 'unknown engine in the engine label; using the default engine');
  }

  /** Events of one tick (a relist delivers hundreds) become one publish. */
  private schedulePublish(): void {
    if (this.publishScheduled) return;
    this.publishScheduled = true;
    queueMicrotask(() => {
      this.publishScheduled = false;
      this.publish();
    });
  }

  private publish(): void {
    const seen = new Set<string>();
    const out: EndpointSpec[] = [];
    for (const specs of this.byPod.values()) {
      for (const spec of specs) {
        const id = endpointId(spec.host, spec.port);
        if (seen.has(id)) continue; // two pods on one address (host network): the first keeps it
        seen.add(id);
        out.push(spec);
      }
    }
    this.endpoints = Object.freeze(out);
    for (const listener of [...this.listeners]) {
      try {
        listener(this.endpoints);
      } catch (err) {
        this.logger.error({ err }, 'endpoint listener threw');
      }
    }
  }

  private setReachable(watch: ResourceWatch, reachable: boolean): void {
    this.reachability.set(watch, reachable);
    const all = [...this.reachability.values()].every(Boolean);
    if (all === this.reachable) return;
    this.reachable = all;
    this.o.onReachable?.(all);
  }
}

function sameSelection(a: PoolSpec, b: PoolSpec): boolean {
  const ka = Object.keys(a.selector);
  return (
    ka.length === Object.keys(b.selector).length &&
    ka.every((k) => a.selector[k] === b.selector[k]) &&
    a.targetPorts.length === b.targetPorts.length &&
    a.targetPorts.every((p, i) => b.targetPorts[i] === p)
  );
}

function sameEndpoints(a: readonly EndpointSpec[], b: readonly EndpointSpec[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as EndpointSpec;
    const y = b[i] as EndpointSpec;
    if (x.host !== y.host || x.port !== y.port || x.engine !== y.engine) return false;
    const lx = x.labels ?? {};
    const ly = y.labels ?? {};
    const keys = Object.keys(lx);
    if (keys.length !== Object.keys(ly).length || keys.some((k) => lx[k] !== ly[k])) return false;
  }
  return true;
}
