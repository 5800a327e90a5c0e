// The watch of a kind of object that attaches to the pool through `spec.poolRef` (InferenceObjective,
// InferenceModelRewrite): one namespaced custom resource in the pool's namespace, listed and watched like the pool's
// other watches, and optional: a cluster without the CRD is served from the config file alone, as the Go EPP does.
import { type Logger } from '../core/index.js';
import { KubernetesResourceMissingError } from './api-errors.js';
import { type PoolRef, type PoolWatchOptions, poolLogger } from './inference-pool-source.js';
import { asList } from './kube-clients.js';
import { ResourceWatch, sharedWatchOptions } from './resource-watch.js';

/** What a source of pool-attached objects is built from: the same as the pool's own watches. */
export type PoolAttachedSourceOptions = PoolWatchOptions;

export interface AttachedKind {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** For the log line when the CRD is missing, e.g. `InferenceObjective`. */
  readonly kind: string;
  /** Where the values come from without the CRD, e.g. `objectives come from the config file only`. */
  readonly fallback: string;
}

export interface AttachedHandlers {
  /** An object was added or updated. */
  readonly onChange: (obj: unknown) => void;
  readonly onDelete: (obj: unknown) => void;
}

export class PoolAttachedWatch {
  /** The sources' logger too: the pool's namespace/name on every line. */
  readonly logger: Logger;
  private readonly watch: ResourceWatch;
  private available = false;

  constructor(
    o: PoolAttachedSourceOptions,
    private readonly kind: AttachedKind,
    handlers: AttachedHandlers,
  ) {
    this.logger = poolLogger(o);
    const { group, version, plural } = kind;
    const namespace = o.pool.namespace;
    this.watch = new ResourceWatch({
      ...sharedWatchOptions({ ...o, kubeConfig: o.clients.config }, this.logger),
      path: `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
      list: async () => asList(await o.clients.custom.listNamespacedCustomObject({ group, version, namespace, plural })),
      what: { resource: plural, group, namespace },
      onAdd: handlers.onChange,
      onUpdate: handlers.onChange,
      onDelete: handlers.onDelete,
      onReachable: o.onReachable,
    });
  }

  /** Lists and watches; a missing CRD is logged and tolerated, RBAC denials reject naming verb and resource. */
  async start(): Promise<void> {
    try {
      await this.watch.start();
      this.available = true;
    } catch (err) {
      if (!(err instanceof KubernetesResourceMissingError)) throw err;
      this.logger.warn({ error: err.message }, `${this.kind.kind} is not served by this cluster; ${this.kind.fallback}`);
    }
  }

  stop(): Promise<void> {
    return this.watch.stop();
  }

  /** Whether the CRD is served and watched. */
  get watching(): boolean {
    return this.available;
  }
}

/** An attached object counts for the pool when its poolRef names it (name and group) and it is not being deleted. */
export function attachedTo(pool: PoolRef, ref: { readonly poolName: string | undefined; readonly poolGroup: string; readonly terminating: boolean }): boolean {
  return ref.poolName === pool.name && ref.poolGroup === pool.group && !ref.terminating;
}
