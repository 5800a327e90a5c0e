// InferenceObjective watch: objective name -> priority for the objectives whose poolRef names our pool (as the
// Go EPP filters them). Lookups read a Map that watch events replace entries of, so a priority change applies to
// the next request at once; what is queued keeps the priority it was admitted with.
import { type Clock, type Logger, type Random, noopLogger } from '../core/index.js';
import { KubernetesResourceMissingError } from './api-errors.js';
import { type PoolRef } from './inference-pool-source.js';
import { type KubeClients, asList } from './kube-clients.js';
import { OBJECTIVE_GROUP, OBJECTIVE_VERSION, objectKey, parseInferenceObjective } from './resources.js';
import { ResourceWatch, type WatchTuning, sharedWatchOptions } from './resource-watch.js';

export interface ObjectiveSourceOptions extends WatchTuning {
  readonly clients: KubeClients;
  readonly pool: PoolRef;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  readonly onReachable?: (reachable: boolean) => void;
  /** Called after every change of the name -> priority map. */
  readonly onChange?: () => void;
}

export class InferenceObjectiveSource {
  private readonly logger: Logger;
  private readonly watch: ResourceWatch;
  private readonly priorities = new Map<string, number>();
  private available = false;

  constructor(private readonly o: ObjectiveSourceOptions) {
    this.logger = (o.logger ?? noopLogger).child({ pool: `${o.pool.namespace}/${o.pool.name}` });
    const namespace = o.pool.namespace;
    this.watch = new ResourceWatch({
      ...sharedWatchOptions({ ...o, kubeConfig: o.clients.config }, this.logger),
      path: `/apis/${OBJECTIVE_GROUP}/${OBJECTIVE_VERSION}/namespaces/${namespace}/inferenceobjectives`,
      list: async () =>
        asList(
          await o.clients.custom.listNamespacedCustomObject({ group: OBJECTIVE_GROUP, version: OBJECTIVE_VERSION, namespace, plural: 'inferenceobjectives' }),
        ),
      what: { resource: 'inferenceobjectives', group: OBJECTIVE_GROUP, namespace },
      onAdd: (obj) => this.changed(obj),
      onUpdate: (obj) => this.changed(obj),
      onDelete: (obj) => this.deleted(obj),
      onReachable: o.onReachable,
    });
  }

  /**
   * Lists and watches. A cluster without the InferenceObjective CRD is not an error (the Go EPP skips it too):
   * objectives then come from the config file only. RBAC denials reject.
   */
  async start(): Promise<void> {
    try {
      await this.watch.start();
      this.available = true;
    } catch (err) {
      if (!(err instanceof KubernetesResourceMissingError)) throw err;
      this.logger.warn({ error: err.message }, 'InferenceObjective is not served by this cluster; objectives come from the config file only');
    }
  }

  async close(): Promise<void> {
    await this.watch.stop();
  }

  /** Whether the CRD is served and watched. */
  get watching(): boolean {
    return this.available;
  }

  /** Priority of the InferenceObjective `name` bound to our pool; undefined when there is none. O(1). */
  get(name: string): number | undefined {
    return this.priorities.get(name);
  }

  /** Every objective bound to the pool, for logs and the status page. */
  entries(): ReadonlyMap<string, number> {
    return this.priorities;
  }

  private changed(obj: unknown): void {
    const spec = parseInferenceObjective(obj);
    if (spec === undefined) return;
    const ours = spec.poolName === this.o.pool.name && spec.poolGroup === this.o.pool.group && !spec.terminating;
    if (!ours) {
      // It may have been ours before (poolRef edited away): forget it.
      if (this.priorities.delete(spec.name)) this.o.onChange?.();
      return;
    }
    if (this.priorities.get(spec.name) === spec.priority) return;
    this.priorities.set(spec.name, spec.priority);
    this.logger.info({ objective: spec.name, priority: spec.priority }, 'InferenceObjective priority');
    this.o.onChange?.();
  }

  private deleted(obj: unknown): void {
    const key = objectKey(obj);
    if (key === undefined || !this.priorities.delete(key.name)) return;
    this.logger.info({ objective: key.name }, 'InferenceObjective deleted; its name falls back to the config file, else priority 0');
    this.o.onChange?.();
  }
}
