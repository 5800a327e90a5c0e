// Metrics of the control plane: configuration reloads by result, whether this replica leads (leader election),
// and whether the Kubernetes API server answers (the pool is then the last one seen). Gauges read at scrape time.
import { Counter, type Registry } from 'prom-client';
import { type Logger, noopLogger } from '../core/index.js';
import { registerScrapeGauge } from './scrape-gauge.js';

export const CONTROL_PLANE_METRICS = {
  configReloads: 'fairway_config_reloads_total',
  leader: 'fairway_leader',
  kubernetesApiReachable: 'fairway_kubernetes_api_reachable',
} as const;

export type ReloadResult = 'applied' | 'unchanged' | 'invalid' | 'failed';

export interface ControlPlaneSources {
  /** 1 while this replica leads (always 1 without leader election). */
  readonly isLeader: () => boolean;
  /** Undefined when not in Kubernetes mode (no series then). */
  readonly apiReachable?: () => boolean;
}

export class ControlPlaneMetrics {
  private readonly reloads: Counter<'result'>;

  constructor(registry: Registry, sources: ControlPlaneSources, options: { prefix?: string; logger?: Logger } = {}) {
    const prefix = options.prefix ?? '';
    const logger = options.logger ?? noopLogger;
    this.reloads = new Counter({
      name: `${prefix}${CONTROL_PLANE_METRICS.configReloads}`,
      help: 'Configuration reloads (SIGHUP or file change) by result: applied, unchanged, invalid (the running configuration is kept), failed.',
      labelNames: ['result'],
      registers: [registry],
    });
    for (const result of ['applied', 'unchanged', 'invalid', 'failed'] as const) this.reloads.inc({ result }, 0);
    registerScrapeGauge(
      registry,
      logger,
      { name: `${prefix}${CONTROL_PLANE_METRICS.leader}`, help: '1 while this replica is the leader and may serve (always 1 without leader election).' },
      (g) => g.set(sources.isLeader() ? 1 : 0),
    );
    const reachable = sources.apiReachable;
    if (reachable !== undefined) {
      registerScrapeGauge(
        registry,
        logger,
        {
          name: `${prefix}${CONTROL_PLANE_METRICS.kubernetesApiReachable}`,
          help: '1 while the Kubernetes API server answers the watches; 0 while it does not (the last known pool keeps serving).',
        },
        (g) => g.set(reachable() ? 1 : 0),
      );
    }
  }

  reloaded(result: ReloadResult): void {
    this.reloads.inc({ result });
  }
}
