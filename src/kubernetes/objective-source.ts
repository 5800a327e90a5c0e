// InferenceObjective watch: objective name -> priority for the objectives whose poolRef names our pool (as the
// Go EPP filters them). Lookups read a Map that watch events replace entries of, so a priority change applies to
// the next request at once; what is queued keeps the priority it was admitted with.
import { type Logger } from '../core/index.js';
import { PoolAttachedWatch, type PoolAttachedSourceOptions, attachedTo } from './pool-attached-watch.js';
import { OBJECTIVE_GROUP, OBJECTIVE_VERSION, objectKey, parseInferenceObjective } from './resources.js';

export interface ObjectiveSourceOptions extends PoolAttachedSourceOptions {
  /** Called after every change of the name -> priority map. */
  readonly onChange?: () => void;
}

export class InferenceObjectiveSource {
  private readonly logger: Logger;
  private readonly watch: PoolAttachedWatch;
  private readonly priorities = new Map<string, number>();

  constructor(private readonly o: ObjectiveSourceOptions) {
    // Without the CRD (the Go EPP skips it too) objectives come from the config file only.
    const kind = { group: OBJECTIVE_GROUP, version: OBJECTIVE_VERSION, plural: 'inferenceobjectives', kind: 'InferenceObjective', fallback: 'objectives come from the config file only' };
    this.watch = new PoolAttachedWatch(o, kind, { onChange: (obj) => this.changed(obj), onDelete: (obj) => this.deleted(obj) });
    this.logger = this.watch.logger;
  }

  /** Lists and watches; a missing CRD is tolerated, RBAC denials reject. */
  start(): Promise<void> {
    return this.watch.start();
  }

  async close(): Promise<void> {
    await this.watch.stop();
  }

  /** Whether the CRD is served and watched. */
  get watching(): boolean {
    return this.watch.watching;
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
    if (!attachedTo(this.o.pool, spec)) {
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
