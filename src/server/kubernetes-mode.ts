// Kubernetes mode of the composition root: loads the client configuration (in-cluster service account, or a
// kubeconfig file), resolves the pool's namespace, and builds the adapters of src/kubernetes from the config:
// the InferencePool endpoint source, the InferenceObjective priorities, the InferenceModelRewrite objects, and the
// Lease elector when enabled.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { type FairwayConfig } from '../config/index.js';
import { type Clock, type Logger, type Random } from '../core/index.js';
import {
  ApiReachability,
  InferenceModelRewriteSource,
  InferenceObjectiveSource,
  InferencePoolEndpointSource,
  type KubeClients,
  KubernetesLeaseStore,
  LeaderElector,
  type PoolRef,
  type WatchTuning,
  makeKubeClients,
} from '../kubernetes/index.js';

export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** `--kubeconfig` when given; in a pod, the service account; otherwise $KUBECONFIG or ~/.kube/config. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined) kc.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST !== undefined) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** As the Go EPP: the configured namespace, else $NAMESPACE (Downward API), else the pod's own, else "default". */
export function resolvePoolNamespace(configured: string | undefined): string {
  if (configured !== undefined) return configured;
  const env = process.env.NAMESPACE;
  if (env !== undefined && env !== '') return env;
  if (existsSync(SERVICE_ACCOUNT_NAMESPACE_FILE)) return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim();
  return 'default';
}

/** Pod name (or host name) plus a random suffix: a restarted pod is a new candidate, as in controller-runtime. */
export function leaderIdentity(): string {
  return `${process.env.POD_NAME ?? hostname()}_${randomBytes(4).toString('hex')}`;
}

export interface KubernetesModeDeps {
  /** Clients to use; built from the config's kubeconfig (or in-cluster) when absent. */
  readonly clients?: KubeClients;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  /** Shorter watch back-off and timeouts, for tests. */
  readonly watchTuning?: WatchTuning;
  /** Leader identity. @default leaderIdentity() */
  readonly identity?: string;
}

export class KubernetesMode {
  readonly pool: PoolRef;
  readonly source: InferencePoolEndpointSource;
  readonly objectives: InferenceObjectiveSource;
  readonly rewrites: InferenceModelRewriteSource;
  readonly elector: LeaderElector | undefined;
  /** Every watch of the pool reports to it: the API server is reachable when no watch is cut off. */
  private readonly reachability: ApiReachability;

  constructor(config: FairwayConfig['kubernetes'], deps: KubernetesModeDeps) {
    const name = config.poolName;
    if (name === undefined) throw new Error('Kubernetes mode needs kubernetes.poolName');
    const clients = deps.clients ?? makeKubeClients(loadKubeConfig(config.kubeconfig));
    this.pool = { name, namespace: resolvePoolNamespace(config.poolNamespace), group: config.poolGroup };
    const logger = deps.logger.child({ subsystem: 'kubernetes' });
    // The pool's watches share one reachability log: the API server going away is one line, not one per watch.
    const reachability = new ApiReachability(logger.child({ pool: `${this.pool.namespace}/${this.pool.name}` }));
    this.reachability = reachability;
    const common = { clients, pool: this.pool, clock: deps.clock, random: deps.random, logger, reachability, ...deps.watchTuning };
    this.source = new InferencePoolEndpointSource({ ...common, engineLabel: config.engineLabel });
    this.objectives = new InferenceObjectiveSource(common);
    this.rewrites = new InferenceModelRewriteSource(common);
    const le = config.leaderElection;
    this.elector = le.enabled
      ? new LeaderElector({
          store: new KubernetesLeaseStore(clients, this.pool.namespace, le.leaseName ?? `fairway-${name}`),
          identity: deps.identity ?? leaderIdentity(),
          leaseDurationMs: le.leaseDurationMs,
          renewDeadlineMs: le.renewDeadlineMs,
          retryPeriodMs: le.retryPeriodMs,
          clock: deps.clock,
          random: deps.random,
          logger,
        })
      : undefined;
  }

  /** Lists and watches the pool, its pods, objectives and rewrites (rejecting on RBAC denials), then campaigns. */
  async start(): Promise<void> {
    await Promise.all([this.source.start(), this.objectives.start(), this.rewrites.start()]);
    this.elector?.start();
  }

  /** Stops leading and releases the lease, so a standby takes over within one retry period. Idempotent. */
  async stepDown(): Promise<void> {
    await this.elector?.stop(true);
  }

  /** Steps down (if not done yet), then stops the watches. */
  async close(): Promise<void> {
    await this.stepDown();
    await Promise.all([this.source.close(), this.objectives.close(), this.rewrites.close()]);
  }

  apiReachable(): boolean {
    return this.reachability.reachable;
  }
}
