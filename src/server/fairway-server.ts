// The composition root: builds every subsystem from a validated config, owns the listening ports, and runs the
// lifecycle (start, graceful shutdown). Nothing else in Fairway opens a listening socket on its own.
import { readFile } from 'node:fs/promises';
import { Registry as PromRegistry } from 'prom-client';
import { type FairwayConfig } from '../config/index.js';
import { type Clock, type Logger, type Random, SeededRandom, mathRandom, systemClock } from '../core/index.js';
import { InflightTracker, PoolMonitor, StaticEndpointSource } from '../datalayer/index.js';
import { ExtProcService, HealthService, type TlsOption } from '../extproc/index.js';
import { FlowController } from '../flowcontrol/index.js';
import { ModelRewriter, RequestPipeline, rewriteSetFromSpec } from '../gateway/index.js';
import { FairwayMetrics } from '../observability/index.js';
import { ProxyServer } from '../proxy/index.js';
import { type SaturationDetector, createSaturationDetectorRegistry } from '../saturation/index.js';
import { DEFAULT_PROFILE_CONFIG, Scheduler, buildProfile, createPrefixHasher } from '../scheduler/index.js';
import { AdminHttpServer } from './admin-http-server.js';

export interface FairwayServerDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Registry for Prometheus metrics; a fresh one by default (never prom-client's global). */
  readonly registry?: PromRegistry;
}

export interface ListeningPorts {
  readonly grpc: number;
  readonly health: number;
  readonly metrics: number;
  readonly proxy: number | undefined;
}

export class FairwayServer {
  readonly registry: PromRegistry;
  readonly flowControl: FlowController;
  readonly inflight: InflightTracker;
  readonly monitor: PoolMonitor;
  readonly source: StaticEndpointSource;
  readonly saturation: SaturationDetector;
  readonly metrics: FairwayMetrics;
  /** Model-name rewrites from `modelRewrites` (and, in Kubernetes, the InferenceModelRewrite objects). */
  readonly rewriter: ModelRewriter;
  private readonly health: HealthService;
  private readonly admin: AdminHttpServer;
  private extProc: ExtProcService | undefined;
  private proxy: ProxyServer | undefined;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private ready = false;
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    readonly config: FairwayConfig,
    private readonly deps: FairwayServerDeps,
  ) {
    this.logger = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.registry = deps.registry ?? new PromRegistry();
    this.metrics = new FairwayMetrics(this.registry, { clock: this.clock });
    this.source = new StaticEndpointSource(config.pool.endpoints);
    this.inflight = new InflightTracker({ clock: this.clock, logger: this.logger });
    this.monitor = new PoolMonitor({
      source: this.source,
      clock: this.clock,
      logger: this.logger.child({ subsystem: 'datalayer' }),
      scrapeIntervalMs: config.pool.metrics.intervalMs,
      scrapeTimeoutMs: config.pool.metrics.timeoutMs,
      staleAfterMs: config.pool.metrics.stalenessMs,
      metricsPath: config.pool.metrics.path,
      defaultEngine: config.pool.metrics.engine,
      scrapeListener: this.inflight,
    });
    // One staleness limit for the pool, handed over as a fact about the pool (a dependency), never merged into
    // the detector's own options: each detector's options are exactly what the operator wrote.
    this.saturation = createSaturationDetectorRegistry().get(config.saturation.detector)(
      {
        pool: this.monitor.pool,
        inflight: this.inflight,
        clock: this.clock,
        logger: this.logger,
        stalenessMs: config.pool.metrics.stalenessMs,
      },
      config.saturation.options,
    );
    const fcConfig = config.flowControl;
    this.flowControl = new FlowController({
      saturation: this.saturation,
      clock: this.clock,
      logger: this.logger.child({ subsystem: 'flowcontrol' }),
      observer: this.metrics,
      bands: fcConfig.bands,
      bandTemplate: fcConfig.bandTemplate,
      defaultTtlMs: fcConfig.defaultTtlMs,
      maxQueuedRequests: fcConfig.maxQueuedRequests,
      maxQueuedBytes: fcConfig.maxQueuedBytes,
      maxFlows: fcConfig.maxFlows,
      maxBands: fcConfig.maxBands,
      arbitration: fcConfig.arbitration,
      usageLimit: fcConfig.usageLimit,
      tenantWeights: Object.fromEntries(Object.entries(config.tenants).map(([t, v]) => [t, v.weight])),
    });
    this.metrics.bindFlowControl(() => this.flowControl.stats());
    this.metrics.bindSaturation(this.saturation);
    this.metrics.bindPool(this.monitor.pool);
    this.rewriter = new ModelRewriter(config.modelRewrites.map((r, i) => rewriteSetFromSpec(r.name, r, i)));
    this.health = new HealthService({ logger: this.logger, initialStatus: 'NOT_SERVING' });
    this.admin = new AdminHttpServer({ registry: this.registry, ready: () => this.ready, logger: this.logger });
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

  private async open(): Promise<ListeningPorts> {
    const c = this.config;
    const random = this.deps.random ?? (c.scheduler.seed !== undefined ? new SeededRandom(c.scheduler.seed) : mathRandom);
    const scheduler = new Scheduler({
      profile: buildProfile(c.scheduler.profile ?? DEFAULT_PROFILE_CONFIG),
      random,
      saturation: this.saturation,
    });
    const pipeline = new RequestPipeline({
      flowControl: this.flowControl,
      scheduler,
      hasher: await createPrefixHasher(),
      pool: this.monitor.pool,
      inflight: this.inflight,
      identity: {
        objectives: new Map(Object.entries(c.objectives)),
        mode: c.trust.mode,
        tenantHeader: c.trust.tenantHeader,
        priorityCaps: new Map(
          Object.entries(c.tenants).flatMap(([t, v]) => (v.maxPriority !== undefined ? [[t, v.maxPriority] as const] : [])),
        ),
        defaultPriorityCap: c.trust.defaultPriorityCap,
      },
      clock: this.clock,
      logger: this.logger.child({ subsystem: 'gateway' }),
      observer: this.metrics,
      retry: { contendedSeconds: c.server.retryAfterSeconds.contended, unavailableSeconds: c.server.retryAfterSeconds.unavailable },
      expectedOutputTokens: c.flowControl.expectedOutputTokens,
      fallbackEndpoints: c.scheduler.fallbackEndpoints,
      rewriter: this.rewriter,
    });
    this.flowControl.start();
    await this.monitor.start();
    const host = c.server.host;
    this.extProc = new ExtProcService({
      handler: pipeline,
      logger: this.logger.child({ subsystem: 'extproc' }),
      clock: this.clock,
      maxRequestBodyBytes: c.server.maxBodyBytes,
      maxRequestHeaderBytes: c.server.maxHeaderBytes,
    });
    const tls = await this.tlsOption();
    const grpc = (await this.extProc.start({ host, port: c.server.grpcPort, tls })).port;
    const health = (await this.health.start({ host, port: c.server.healthPort })).port;
    const metrics = await this.admin.start(host, c.server.metricsPort);
    let proxy: number | undefined;
    if (c.server.proxyPort !== undefined) {
      this.proxy = new ProxyServer({
        handler: pipeline,
        logger: this.logger.child({ subsystem: 'proxy' }),
        maxBodyBytes: c.server.maxBodyBytes,
        maxHeaderBytes: c.server.maxHeaderBytes,
        unreachableRetryAfterSeconds: c.server.retryAfterSeconds.unavailable,
        // Clients that are not trusted with identity headers are not trusted to pin endpoints either.
        trustSubsetHeader: c.trust.mode === 'trusted',
        connectAttempts: c.server.proxyConnectAttempts,
      });
      proxy = (await this.proxy.start({ host, port: c.server.proxyPort })).port;
    }
    this.ready = true;
    this.health.setAll('SERVING');
    return { grpc, health, metrics, proxy };
  }

  /**
   * Graceful shutdown: stop admitting and report not ready, answer every queued request (503, reason shutdown),
   * let in-flight responses finish within the grace period, then close every port. Idempotent.
   */
  shutdown(graceMs = this.config.server.shutdownGraceMs): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(graceMs);
    return this.shutdownPromise;
  }

  private async doShutdown(graceMs: number): Promise<void> {
    this.ready = false;
    this.health.setAll('NOT_SERVING');
    await this.flowControl.close();
    await this.waitForInflight(graceMs);
    await Promise.all([this.extProc?.close(1_000), this.proxy?.close(1_000)]);
    await this.health.close(500);
    await this.monitor.close();
    this.saturation.close();
    await this.admin.close();
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
    const tls = this.config.server.tls;
    if (tls.mode === 'none') return undefined;
    if (tls.mode === 'self-signed') return 'self-signed';
    const [cert, key] = await Promise.all([readFile(tls.certFile ?? '', 'utf8'), readFile(tls.keyFile ?? '', 'utf8')]);
    return { cert, key };
  }
}
