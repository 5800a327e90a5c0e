// Objective priorities with their documented precedence: an InferenceObjective of the pool (Kubernetes) wins over
// the config file's `objectives` map for the same name; the map covers names with no InferenceObjective (and
// clusters without the CRD). A deleted InferenceObjective falls back to the map, else to priority 0.
import { type ObjectiveLookup } from '../gateway/index.js';

export class ObjectivePriorities implements ObjectiveLookup {
  private fromConfig: ReadonlyMap<string, number>;

  constructor(
    config: Readonly<Record<string, number>>,
    private readonly cluster: ObjectiveLookup | undefined,
  ) {
    this.fromConfig = new Map(Object.entries(config));
  }

  /** O(1): two map lookups. */
  get(name: string): number | undefined {
    return this.cluster?.get(name) ?? this.fromConfig.get(name);
  }

  /** A reload's new map; the next request reads it. */
  setConfig(config: Readonly<Record<string, number>>): void {
    this.fromConfig = new Map(Object.entries(config));
  }

  /** Names defined in both places with different priorities (the cluster's win); for a warning at reload/start. */
  shadowed(): string[] {
    const out: string[] = [];
    for (const [name, priority] of this.fromConfig) {
      const fromCluster = this.cluster?.get(name);
      if (fromCluster !== undefined && fromCluster !== priority) out.push(name);
    }
    return out;
  }
}
