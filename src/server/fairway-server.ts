// The composition root: builds every subsystem from a validated config, owns the listening ports, and runs the
// lifecycle (start, graceful shutdown). Nothing else in Fairway opens a listening socket on its own.
import { readFile } from 'node:fs/promises';
import { Registry as PromRegistry } from 'prom-client';
import { type FairwayConfig } from '../config/index.js';
import { type Clock, type Logger, type Random, FairwayError, ObserverFaults, SeededRandom, mathRandom, systemClock } from '../core/index.js';
import {
  type EndpointSource,
  type PoolFeed,
  type ScrapeListener,
  CombinedInflight,
  InflightTracker,
  ModelPoller,
  HttpModelListClient,
  PoolMonitor,
  PoolReachability,
  StaticEndpointSource,
  fanOutScrapes,
  lowerBackgroundThreads,
} from '../datalayer/index.js';
import { DEFAULT_HEALTH_SERVICES, ExtProcService, HealthService, type TlsOption } from '../extproc/index.js';
import { FlowController, fanOutFlowControlObserver } from '../flowcontrol/index.js';
import {
  type Decision,
  type InferenceRequest,
  ModelRewriter,
  type RequestHandler,
  RequestPipeline,
  fanOutGatewayObserver,
} from '../gateway/index.js';
import type { KubeClients, WatchTuning } from '../kubernetes/index.js';
import { ControlPlaneMetrics, FairwayMetrics } from '../observability/index.js';
import { ProxyServer } from '../proxy/index.js';
import { type SaturationDetector, SwappableSaturationDetector, createSaturationDetectorRegistry } from '../saturation/index.js';
import { DEFAULT_PROFILE_CONFIG, PrefixIndex, Scheduler, buildProfile, createPrefixHasher, prefixDepthBlocks } from '../scheduler/index.js';
import type { ExchangeTransport } from '../sharedstate/index.js';
import { StatusRecorder, StatusService, hashTenantName, summarizeConfig, tenantNamer } from '../status/index.js';
import { AdminHttpServer } from './admin-http-server.js';
import { type SharedStateParts, buildSharedState, loadRedisClient } from './shared-state.js';
// Type only: Kubernetes mode is loaded on demand (FairwayServer.create), see `loadKubernetesMode`.
import type { KubernetesMode } from './kubernetes-mode.js';
import { type Leadership, alwaysLeader } from './leadership.js';
import { type ReloadReport, applyLiveConfig, flowControlOptions, identityOptions } from './live-config.js';
import { metricsFetchOptions } from './metrics-credentials.js';
import { ObjectivePriorities } from './objective-priorities.js';
import { ModelRewriteRules } from './model-rewrite-rules.js';
import { PoolAvailability } from './pool-availability.js';
import { fairwayVersion, loadStatusAssets } from './status-assets.js';
import { StatusHttp } from './status-http.js';

export interface FairwayServerDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Registry for Prometheus metrics; a fresh one by default (never prom-client's global). */
  readonly registry?: PromRegistry;
  /** Kubernetes mode: API clients to use instead of loading the kubeconfig / in-cluster credentials (tests). */
  readonly kubeClients?: KubeClients;
  /** Kubernetes mode: watch back-off and timeouts (tests shorten them). */
  readonly watchTuning?: WatchTuning;
  /** Kubernetes mode: the leader-election identity. @default pod name + random suffix */
  readonly leaderIdentity?: string;
  /** Shared-state transport supplied by the caller (a worker of `serve --workers`); else from `sharedState`. */
  readonly sharedStateTransport?: ExchangeTransport;
  /** Admin token from outside the config file (the CLI reads FAIRWAY_ADMIN_TOKEN); wins over `server.admin.token`. */
  readonly adminToken?: string;
  /** Wall-clock ms for the status page's timestamps. @default Date.now */
  readonly wallClock?: () => number;
}

export interface ListeningPorts {
  readonly grpc: number;
  readonly health: number;
  readonly metrics: number;
  readonly proxy: number | undefined;
}

/**
 * Kubernetes mode's class, loaded on demand: @kubernetes/client-node is about 28 MB of heap, which a server with
 * static endpoints would otherwise carry, and every major GC marks the whole heap (with long bodies, Buffers
 * trigger one every few dozen requests: the bigger the heap, the more CPU each request pays for it).
 */
let kubernetesModeClass: typeof KubernetesMode | undefined;

/** Loads Kubernetes mode (once); `FairwayServer.create` calls it when the config names an InferencePool. */
async function loadKubernetesMode(): Promise<void> {
  kubernetesModeClass ??= (await import('./kubernetes-mode.js')).KubernetesMode;
}

/** A request reaching a replica that is not the leader (Envoy's health checks should keep this rare). */
const NOT_LEADER: Decision = {
  kind: 'reject',
  status: 503,
  reason: 'not-leader',
  message: 'this endpoint-picker replica is a standby (not the leader); retry',
};

export class FairwayServer {
  readonly registry: PromRegistry;
  readonly flowControl: FlowController;
  readonly inflight: InflightTracker;
  /** Scrapes the pool: a PoolMonitor, or the shared scrapes of replicas sharing state. */
  readonly monitor: PoolFeed;
  /** What detectors, scorers and the pipeline count in flight: this replica's ledger, plus the others' when shared. */
  readonly inflightView: InflightTracker | CombinedInflight;
  readonly source: EndpointSource;
  readonly saturation: SwappableSaturationDetector;
  readonly metrics: FairwayMetrics;
  /** Model-name rewrites from `modelRewrites` (and, in Kubernetes, the InferenceModelRewrite objects). */
  readonly rewriter: ModelRewriter;
  /** Feeds the rewriter: the config file's `modelRewrites` and the pool's InferenceModelRewrites, merged. */
  readonly rewriteRules: ModelRewriteRules;
  /** What each endpoint serves (its `/v1/models`), when `pool.models.discover` is on. */
  readonly models: ModelPoller | undefined;
  readonly controlPlane: ControlPlaneMetrics;
  /** Set in Kubernetes mode (`kubernetes.poolName`). */
  readonly kubernetes: KubernetesMode | undefined;
  readonly leadership: Leadership;
  readonly objectives: ObjectivePriorities;
  /** Present when replicas share state (`sharedState.backend: redis`, or a worker of `serve --workers`). */
  readonly shared: SharedStateParts | undefined;
  /** The operator's view (/status, /status.json, /status/events). */
  readonly status: StatusService;
  /** Answers 503 instead of holding while no endpoint answers (`pool.unreachableAfterMs`, `pool.unresponsiveAfterMs`; absent when both are 0). */
  readonly availability: PoolAvailability | undefined;
  private readonly statusRecorder: StatusRecorder;
  private readonly staticSource: StaticEndpointSource | undefined;
  private readonly health: HealthService;
  private admin: AdminHttpServer | undefined;
  private extProc: ExtProcService | undefined;
  private proxy: ProxyServer | undefined;
  private scheduler: Scheduler | undefined;
  private pipeline: RequestPipeline | undefined;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly observerFaults: ObserverFaults;
  private running: FairwayConfig;
  private started = false;
  private stopping = false;
  private shutdownPromise: Promise<void> | undefined;
  private readonly unsubscribes: (() => void)[] = [];

  /**
   * Builds the server after loading what its configuration needs: in Kubernetes mode (`kubernetes.poolName`), the
   * Kubernetes client; with `sharedState.backend: redis`, the Redis client. `new FairwayServer` builds neither
   * (unless a `create` in this process has loaded it).
   */
  static async create(config: FairwayConfig, deps: FairwayServerDeps): Promise<FairwayServer> {
    if (config.kubernetes.poolName !== undefined) await loadKubernetesMode();
    if (config.sharedState.backend === 'redis' && deps.sharedStateTransport === undefined) await loadRedisClient();
    return new FairwayServer(config, deps);
  }

  constructor(
    config: FairwayConfig,
    private readonly deps: FairwayServerDeps,
  ) {
    this.running = config;
    this.logger = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.registry = deps.registry ?? new PromRegistry();
    // One record of throwing observers for every fan-out of this server (flow control's, the gateway's, the scrapes').
    this.observerFaults = new ObserverFaults(this.logger.child({ subsystem: 'observers' }), this.clock);
    // Read through `running`, so a reload's tenant weights apply to the fairness figures too.
    const weightOf = (fairnessId: string): number =>
      Object.hasOwn(this.running.tenants, fairnessId) ? (this.running.tenants[fairnessId]?.weight ?? 1) : 1;
    const hashed = config.server.admin.hashTenantNames;
    this.metrics = new FairwayMetrics(this.registry, {
      clock: this.clock,
      ...(hashed ? { tenantLabel: hashTenantName } : {}),
    });
    this.statusRecorder = new StatusRecorder({ weightOf });
    // One ledger of served tokens per tenant: the status page's, which the fairness gauges read too.
    this.metrics.bindTenantService(this.statusRecorder.tenants);
    if (config.kubernetes.poolName !== undefined) {
      const Mode = kubernetesModeClass;
      if (Mode === undefined) {
        throw new FairwayError('ERR_KUBERNETES_NOT_LOADED', 'Kubernetes mode: build the server with `await FairwayServer.create(config, deps)`, which loads the Kubernetes client');
      }
      this.kubernetes = new Mode(config.kubernetes, {
        clients: deps.kubeClients,
        clock: this.clock,
        random: deps.random ?? mathRandom,
        logger: this.logger,
        watchTuning: deps.watchTuning,
        identity: deps.leaderIdentity,
      });
      this.source = this.kubernetes.source;
      if (config.pool.endpoints.length > 0) this.logger.warn({}, 'pool.endpoints is ignored in Kubernetes mode: the InferencePool decides the endpoints');
    } else {
      this.staticSource = new StaticEndpointSource(config.pool.endpoints);
      this.source = this.staticSource;
    }
    this.leadership = this.kubernetes?.elector ?? alwaysLeader;
    this.objectives = new ObjectivePriorities(config.objectives, this.kubernetes?.objectives);
    this.controlPlane = new ControlPlaneMetrics(this.registry, {
      isLeader: () => this.leadership.isLeader(),
      apiReachable: this.kubernetes !== undefined ? () => this.kubernetes?.apiReachable() ?? true : undefined,
    });
    this.inflight = new InflightTracker({ clock: this.clock, logger: this.logger });
    // One reader of the credential files for both the scraper and the model-list poller.
    const metricsAccess = metricsFetchOptions(config.pool.metrics, this.clock, this.logger.child({ subsystem: 'datalayer' }));
    const scrape = {
      scrapeIntervalMs: config.pool.metrics.intervalMs,
      scrapeTimeoutMs: config.pool.metrics.timeoutMs,
      staleAfterMs: config.pool.metrics.stalenessMs,
      metricsPath: config.pool.metrics.path,
      defaultEngine: config.pool.metrics.engine,
      maxBackoffMs: config.pool.metrics.maxBackoffMs,
      scrapeThread: config.pool.metrics.scrapeThread,
      scrapeWorkerNice: config.pool.metrics.workerNice,
      beforeScrapeWorker: () => this.lowerBackgroundPriority(config.pool.metrics.workerNice),
      nameFilter: config.pool.metrics.nameFilter,
      ...(config.pool.metrics.maxInFlight !== undefined ? { maxScrapesInFlight: config.pool.metrics.maxInFlight } : {}),
      ...(config.pool.metrics.adaptiveInterval.enabled ? { adaptiveInterval: config.pool.metrics.adaptiveInterval } : {}),
      fetch: metricsAccess,
      observer: this.metrics.scrapes,
    };
    const reachability =
      config.pool.unreachableAfterMs > 0 || config.pool.unresponsiveAfterMs > 0
        ? new PoolReachability({
            poolSize: () => this.monitor.pool.current().endpoints.length,
            clock: this.clock,
            unreachableAfterMs: config.pool.unreachableAfterMs,
            unresponsiveAfterMs: config.pool.unresponsiveAfterMs,
          })
        : undefined;
    this.shared = buildSharedState(config, {
      clock: this.clock,
      logger: this.logger.child({ subsystem: 'sharedstate' }),
      observer: this.metrics.bindSharedState(() => this.shared?.exchange.stats()),
      transport: deps.sharedStateTransport,
      inflight: this.inflight,
      source: this.source,
      scrape,
      endpointIds: () => this.monitor.pool.current().endpoints.map((e) => e.id),
      scrapeListener: reachability,
      observerFaults: this.observerFaults,
    });
    // Replicas sharing state count each other's dispatches, and may share one replica's scrapes.
    this.inflightView = this.shared !== undefined ? new CombinedInflight(this.inflight, this.shared.inflight) : this.inflight;
    const scrapeListeners: Record<string, ScrapeListener> = {
      inflight: this.inflight,
      ...(this.shared !== undefined ? { 'shared-inflight': this.shared.inflight } : {}),
      ...(reachability !== undefined ? { reachability } : {}),
    };
    this.monitor =
      this.shared?.scrapes ??
      new PoolMonitor({
        ...scrape,
        source: this.source,
        clock: this.clock,
        logger: this.logger.child({ subsystem: 'datalayer' }),
        scrapeListener: Object.keys(scrapeListeners).length > 1 ? fanOutScrapes(scrapeListeners, this.observerFaults) : this.inflight,
      });
    this.models = config.pool.models.discover
      ? new ModelPoller({
          source: this.source,
          clock: this.clock,
          logger: this.logger.child({ subsystem: 'datalayer' }),
          intervalMs: config.pool.models.intervalMs,
          timeoutMs: config.pool.models.timeoutMs,
          path: config.pool.models.path,
          client: new HttpModelListClient(metricsAccess),
        })
      : undefined;
    this.saturation = new SwappableSaturationDetector(this.buildDetector(config));
    this.flowControl = new FlowController({
      saturation: this.saturation,
      clock: this.clock,
      logger: this.logger.child({ subsystem: 'flowcontrol' }),
      observer: fanOutFlowControlObserver({ metrics: this.metrics, status: this.statusRecorder }, this.observerFaults),
      ...flowControlOptions(config),
      fairnessExchange: this.shared?.fairness,
      limitBudget: this.shared?.limits,
    });
    this.metrics.bindFlowControl(() => this.flowControl.stats());
    this.metrics.bindSaturation(this.saturation);
    this.availability =
      reachability !== undefined
        ? new PoolAvailability({ reachability, flowControl: this.flowControl, logger: this.logger.child({ subsystem: 'datalayer' }) })
        : undefined;
    this.metrics.bindPool(this.monitor.pool, reachability);
    this.rewriter = new ModelRewriter();
    this.rewriteRules = new ModelRewriteRules(this.rewriter, config.modelRewrites, this.kubernetes?.rewrites);
    this.health = new HealthService({ logger: this.logger, initialStatus: 'NOT_SERVING' });
    this.status = new StatusService({
      sources: { flowControl: this.flowControl, saturation: this.saturation, pool: this.monitor.pool, inflight: this.inflight },
      recorder: this.statusRecorder,
      config: () =>
        summarizeConfig(this.running, {
          detectorSettings: this.saturation.settings(),
          schedulerProfile: this.running.scheduler.profile ?? DEFAULT_PROFILE_CONFIG,
          tenantNames: hashed ? 'hashed' : 'plain',
        }),
      version: fairwayVersion(),
      clock: this.clock,
      wallClock: deps.wallClock ?? Date.now,
      logger: this.logger.child({ subsystem: 'status' }),
      tenantName: tenantNamer(hashed ? 'hashed' : 'plain'),
      topTenants: config.status.topTenants,
      maxEndpoints: config.status.maxEndpoints,
      intervalMs: config.status.intervalMs,
      historySeconds: config.status.historySeconds,
    });
  }

  /** The configuration in force (the last one applied by a reload, restart-only fields as started). */
  get config(): FairwayConfig {
    return this.running;
  }

  /**
   * Ready to take traffic: started, not shutting down, the leader (always, without leader election), and in
   * Kubernetes mode the InferencePool found and listed. Drives /readyz and the gRPC health services other than
   * `liveness`, as the Go EPP does, so Envoy and the Service send traffic to the leader alone.
   */
  isReady(): boolean {
    return this.started && !this.stopping && this.leadership.isLeader() && (this.kubernetes?.source.poolSynced ?? true);
  }

  /**
   * Applies a validated configuration live (see live-config.ts). Throws, with the running configuration kept,
   * when a live part of it cannot be built; logs the changed fields and the restart-only ones left as they were.
   */
  applyConfig(next: FairwayConfig): ReloadReport {
    let report: ReloadReport;
    try {
      report = applyLiveConfig(
        {
          flowControl: this.flowControl,
          saturation: this.saturation,
          buildDetector: (c) => this.buildDetector(c),
          objectives: this.objectives,
          rewrites: this.rewriteRules,
          staticSource: this.staticSource,
          scheduler: () => this.scheduler,
          pipeline: () => this.pipeline,
          logger: this.logger,
        },
        this.running,
        next,
      );
    } catch (err) {
      this.controlPlane.reloaded('invalid');
      throw err;
    }
    this.running = report.effective;
    this.controlPlane.reloaded(report.result);
    if (report.restartRequired.length > 0) {
      this.logger.warn({ fields: report.restartRequired }, 'configuration reload: these fields changed but take effect only after a restart');
    }
    if (report.keptBandPolicies.length > 0) {
      this.logger.warn({ fields: report.keptBandPolicies }, 'configuration reload: live bands keep their fairness/ordering/overflow policy until they are next created (configured bands: until a restart)');
    }
    this.logger.info({ result: report.result, changed: report.changed }, 'configuration reloaded');
    const shadowed = this.objectives.shadowed();
    if (shadowed.length > 0) this.logger.warn({ objectives: shadowed }, 'objectives defined both as InferenceObjective and in the config file: the InferenceObjective wins');
    return report;
  }

  private buildDetector(config: FairwayConfig): SaturationDetector {
    // One staleness limit for the pool, handed over as a fact about the pool (a dependency), never merged into
    // the detector's own options: each detector's options are exactly what the operator wrote.
    return createSaturationDetectorRegistry().get(config.saturation.detector)(
      {
        pool: this.monitor.pool,
        inflight: this.inflightView,
        clock: this.clock,
        logger: this.logger,
        stalenessMs: config.pool.metrics.stalenessMs,
      },
      config.saturation.options,
    );
  }

  /** gRPC health: `liveness` serves once started (a standby must not be restarted); the rest follow isReady(). */
  private updateHealth(): void {
    if (!this.started || this.stopping) return;
    const ready = this.isReady() ? 'SERVING' : 'NOT_SERVING';
    for (const service of DEFAULT_HEALTH_SERVICES) this.health.setServing(service, service === 'liveness' ? 'SERVING' : ready);
  }

  /** Standbys answer 503 `not-leader` (with Retry-After) rather than queue work they should not hold. */
  private leaderOnly(pipeline: RequestPipeline): RequestHandler {
    return {
      handle: (request: InferenceRequest): Promise<Decision> => {
        if (this.leadership.isLeader()) return pipeline.handle(request);
        return Promise.resolve({ ...NOT_LEADER, retryAfterSeconds: this.running.server.retryAfterSeconds.unavailable });
      },
    };
  }

  /**
   * Builds what needs async set-up, opens every port, starts scraping. If any step fails (a port in use),
   * whatever was already opened is shut down before the error is rethrown.
   */
  async start(): Promise<ListeningPorts> {
    try {
      return await this.open();
    } catch (err) {
      await this.shutdown(0);
      throw err;
    }
  }

  /**
   * Just before a scrape worker starts: the process's background threads (V8's GC and compiler helpers, libuv's
   * threadpool) get the nice value the worker gives itself, so the worker's garbage, collected on them, yields to
   * the dispatch thread as the worker itself does (lowerBackgroundThreads says why and what it costs). Only
   * where a worker runs; nothing is put back (a lower nice value needs privilege).
   */
  private lowerBackgroundPriority(workerNice: number): void {
    if (workerNice <= 0) return;
    const result = lowerBackgroundThreads(workerNice);
    if (result.applied) this.logger.debug({ nice: result.nice, lowered: result.lowered }, 'background threads at the scrape worker priority');
    else if (process.platform === 'linux') this.logger.info({ reason: result.reason }, 'background threads left at the process priority');
  }

  private async open(): Promise<ListeningPorts> {
    const c = this.running;
    const random = this.deps.random ?? (c.scheduler.seed !== undefined ? new SeededRandom(c.scheduler.seed) : mathRandom);
    const prefix = c.scheduler.prefix;
    const scheduler = (this.scheduler = new Scheduler({
      profile: buildProfile(c.scheduler.profile ?? DEFAULT_PROFILE_CONFIG),
      random,
      saturation: this.saturation,
      models: this.models,
      prefixIndex: new PrefixIndex({ defaultCapacity: prefix.lruCapacityPerServer }),
    }));
    const gatewayObserver = fanOutGatewayObserver(
      { metrics: this.metrics, status: this.statusRecorder, ...(this.availability !== undefined ? { 'pool-availability': this.availability.observer } : {}) },
      this.observerFaults,
    );
    const pipeline = (this.pipeline = new RequestPipeline({
      flowControl: this.flowControl,
      scheduler,
      hasher: await createPrefixHasher({ blockSize: prefix.blockSize, maxBlocks: prefixDepthBlocks(prefix), denseBlocks: prefix.denseBlocks, keyEvery: prefix.keyEvery }),
      pool: this.monitor.pool,
      inflight: this.inflightView,
      identity: identityOptions(c, this.objectives),
      clock: this.clock,
      logger: this.logger.child({ subsystem: 'gateway' }),
      observer: gatewayObserver,
      retry: { contendedSeconds: c.server.retryAfterSeconds.contended, unavailableSeconds: c.server.retryAfterSeconds.unavailable },
      expectedOutputTokens: c.flowControl.expectedOutputTokens,
      fallbackEndpoints: c.scheduler.fallbackEndpoints,
      rewriter: this.rewriter,
      noEndpointTtlMs: c.flowControl.noEndpointRequestTtlMs,
    }));
    this.metrics.bindPending(() => pipeline.pendingRequests());
    const handler = this.kubernetes?.elector !== undefined ? this.leaderOnly(pipeline) : pipeline;
    this.flowControl.start();
    this.shared?.exchange.start();
    await this.monitor.start();
    this.models?.start();
    // Watches list before the ports open, so an RBAC denial fails the start with a message naming the verb.
    await this.kubernetes?.start();
    const host = c.server.host;
    this.extProc = new ExtProcService({
      handler,
      logger: this.logger.child({ subsystem: 'extproc' }),
      clock: this.clock,
      maxRequestBodyBytes: c.server.maxBodyBytes,
      maxRequestHeaderBytes: c.server.maxHeaderBytes,
      startedResponseEviction: c.flowControl.inflightEviction.startedResponses,
      bodyModes: { request: c.server.extProc.requestBodyMode, response: c.server.extProc.responseBodyMode },
      http2WindowBytes: c.server.extProc.http2WindowBytes,
      observer: gatewayObserver,
    });
    const tls = await this.tlsOption();
    const grpc = (await this.extProc.start({ host, port: c.server.grpcPort, tls })).port;
    const health = (await this.health.start({ host, port: c.server.healthPort })).port;
    this.status.start();
    const assets = await loadStatusAssets();
    if (assets.missing.length > 0) this.logger.warn({ missing: assets.missing }, 'status page assets missing; /status.json still works');
    const token = this.deps.adminToken ?? c.server.admin.token;
    this.admin = new AdminHttpServer({
      registry: this.registry,
      ready: () => this.isReady(),
      readyNote: () => this.availability?.note(),
      logger: this.logger,
      token,
      status: new StatusHttp({ service: this.status, assets, logger: this.logger, token }),
    });
    const metrics = await this.admin.start(c.server.admin.host ?? host, c.server.metricsPort);
    let proxy: number | undefined;
    if (c.server.proxyPort !== undefined) {
      this.proxy = new ProxyServer({
        handler,
        logger: this.logger.child({ subsystem: 'proxy' }),
        maxBodyBytes: c.server.maxBodyBytes,
        maxHeaderBytes: c.server.maxHeaderBytes,
        unreachableRetryAfterSeconds: c.server.retryAfterSeconds.unavailable,
        // Clients that are not trusted with identity headers are not trusted to pin endpoints either.
        trustSubsetHeader: c.trust.mode === 'trusted',
        connectAttempts: c.server.proxyConnectAttempts,
        startedResponseEviction: c.flowControl.inflightEviction.startedResponses,
        observer: gatewayObserver,
      });
      proxy = (await this.proxy.start({ host, port: c.server.proxyPort })).port;
    }
    this.started = true;
    this.unsubscribes.push(this.leadership.subscribe(() => this.updateHealth()));
    this.unsubscribes.push(this.source.subscribe(() => this.updateHealth()));
    this.updateHealth();
    return { grpc, health, metrics, proxy };
  }

  /**
   * Graceful shutdown: stop admitting and report not ready, answer every queued request (503, reason shutdown),
   * let in-flight responses finish within the grace period, then close every port. Idempotent.
   */
  shutdown(graceMs = this.running.server.shutdownGraceMs): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(graceMs);
    return this.shutdownPromise;
  }

  private async doShutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.health.setAll('NOT_SERVING');
    // Hand the lease over now, not after the grace period: a standby serves within one retry period.
    await this.kubernetes?.stepDown();
    this.pipeline?.close();
    await this.flowControl.close();
    await this.waitForInflight(graceMs);
    await Promise.all([this.extProc?.close(1_000), this.proxy?.close(1_000)]);
    await this.health.close(500);
    await this.kubernetes?.close();
    this.rewriteRules.close();
    await this.monitor.close();
    await this.models?.close();
    this.availability?.close();
    await this.shared?.close();
    this.saturation.close();
    this.status.close();
    await this.admin?.close();
    this.logger.info({}, 'fairway stopped');
  }

  private async waitForInflight(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (this.inflight.totalRequests() > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
    }
    const left = this.inflight.totalRequests();
    if (left > 0) this.logger.warn({ inflight: left }, 'grace period over; cutting remaining responses');
  }

  private async tlsOption(): Promise<TlsOption> {
    const tls = this.running.server.tls;
    if (tls.mode === 'none') return undefined;
    if (tls.mode === 'self-signed') return 'self-signed';
    const [cert, key] = await Promise.all([readFile(tls.certFile ?? '', 'utf8'), readFile(tls.keyFile ?? '', 'utf8')]);
    return { cert, key };
  }
}
