// What every metric group needs to register itself: the injected registry, the name prefix, the pool label.
import { type Registry } from 'prom-client';
import { type Logger } from '../core/index.js';

export interface MetricContext {
  readonly registry: Registry;
  readonly logger: Logger;
  /** Value of the Go reference's `inference_pool` / `name` pool labels. */
  readonly poolName: string;
  /** Full metric name: the configured prefix plus `base`. */
  name(base: string): string;
}
