// The Prometheus adapter: one object that observes flow control and the request pipeline, plus scrape-time gauges
// bound to the controller, the saturation detectors and the pool. Registers on an injected registry only.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type Clock, FairwayError, type Logger, noopLogger, requireIntegerInRange, systemClock } from '../core/index.js';
import { type PoolView, type ReachabilityView } from '../datalayer/index.js';
import {
  type FlowControlObserver,
  type FlowControlStats,
  type InflightEvictionEvent,
  type OutcomeEvent,
} from '../flowcontrol/index.js';
import { type ConnectFailureEvent, type DecisionEvent, type GatewayObserver, type PendingCount, type RefusedEvent, type ResponseEvent, type ServedEvent } from '../gateway/index.js';
import { BoundedLabel } from './bounded-label.js';
import { DeferredCounter } from './deferred-counter.js';
import { registerScrapeGauge } from './scrape-gauge.js';
import { EvictionMetrics } from './eviction-metrics.js';
import { ScrapeMetrics } from './scrape-metrics.js';
import { registerFlowControlGauges } from './flow-control-gauges.js';
import { goQueueOutcome } from './go-outcome.js';
import { type ExchangeObserver, type ExchangeStats } from '../sharedstate/index.js';
import { registerSharedStateMetrics } from './shared-state-gauges.js';
import { type MetricContext } from './metric-context.js';
import { BUCKETS, FAIRWAY_METRICS, GO_METRICS } from './metric-names.js';
import { registerPoolGauges } from './pool-gauges.js';
import { type SaturationReadout, registerSaturationGauges } from './saturation-gauges.js';
import { TenantLabels } from './tenant-labels.js';

export const DEFAULT_METRIC_PREFIX = '';
export const DEFAULT_POOL_NAME = 'default';
export const DEFAULT_MAX_TENANT_LABELS = 100;
export const DEFAULT_MAX_MODEL_LABELS = 50;
/** The `priority` label of requests a front end refused before the pipeline read their identity (413, 431, ...). */
export const REFUSED_PRIORITY = 'none';

export interface FairwayMetricsOptions {
  /** Prepended to every metric name. The Go-compatible names match the Go EPP only with no prefix. @default '' */
  readonly prefix?: string;
  /** Value of the pool labels (`inference_pool`, `name`) of the Go-compatible metrics. @default 'default' */
  readonly poolName?: string;
  /** Tenants with their own `fairness_id` series; the rest share `__other__`. @default 100 */
  readonly maxTenantLabels?: number;
  /** Distinct values kept for each of `model_name`, `target_model_name`, `objective` (client input). @default 50 */
  readonly maxModelLabels?: number;
  /** How a tenant appears in `fairness_id` labels (a hash, to hide names). @default the name itself */
  readonly tenantLabel?: (fairnessId: string) => string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Where failures of scrape-time sources are reported. @default noopLogger */
  readonly logger?: Logger;
}

type ModelLabel = 'model_name' | 'target_model_name';

/**
 * Served tokens per tenant as the status recorder's TenantLedger keeps them (the one place that tracks them): the
 * fairness gauges read it, and the `fairness_id` labels go to the tenants it says are served.
 */
export interface TenantServiceReadout {
  /** Tenants with any flow-control event in the last `activeTicks` seconds. */
  readonly activeTenants: number;
  readonly activeTicks: number;
  /** Time constant of the service rates, seconds. */
  readonly decayTicks: number;
  /** Jain's index over served tokens / weight of the active tenants; 1 when nothing is served. */
  jainIndex(): number;
  /** Each active tenant's recent service (any common scale; 0: active but served nothing). O(tenants). */
  recentService(): ReadonlyMap<string, number>;
}

export class FairwayMetrics implements FlowControlObserver, GatewayObserver {
  private readonly ctx: MetricContext;
  private readonly models: BoundedLabel;
  private readonly objectives: BoundedLabel;
  private readonly tenants: TenantLabels;
  private readonly clock: Clock;
  private readonly detectors: SaturationReadout[] = [];
  private tenantService: TenantServiceReadout | undefined;
  private flowControlBound = false;
  private poolBound = false;

  private readonly queueDuration: Histogram<'priority' | 'outcome' | 'inference_pool'>;
  private readonly dispatchCycle: Histogram;
  /** inference_objective_request_total (its Counter is reached through collect, which flushes this). */
  private readonly requests: DeferredCounter<ModelLabel | 'objective'>;
  private readonly requestDuration: Histogram<ModelLabel>;
  private readonly inputTokens: Histogram<ModelLabel>;
  private readonly outputTokens: Histogram<ModelLabel>;
  private readonly schedulerDuration: Histogram;
  private readonly shed: Counter<'reason' | 'priority' | 'status'>;
  private readonly rewrites: Counter<'model_rewrite_name' | 'model_name' | 'target_model'>;
  private readonly servedTokens: DeferredCounter<'fairness_id'>;
  private readonly connectFailures: Counter<'outcome'>;
  private readonly fallbackServed: Counter;
  private readonly evictions: EvictionMetrics;
  /** Give to the PoolMonitor as its observer: failed scrapes by reason. */
  readonly scrapes: ScrapeMetrics;

  constructor(registry: Registry, options: FairwayMetricsOptions = {}) {
    const prefix = options.prefix ?? DEFAULT_METRIC_PREFIX;
    const logger = options.logger ?? noopLogger;
    this.ctx = { registry, logger, poolName: options.poolName ?? DEFAULT_POOL_NAME, name: (base) => `${prefix}${base}` };
    const maxTenants = requireIntegerInRange('maxTenantLabels', options.maxTenantLabels ?? DEFAULT_MAX_TENANT_LABELS, 0, 100_000);
    const maxModels = requireIntegerInRange('maxModelLabels', options.maxModelLabels ?? DEFAULT_MAX_MODEL_LABELS, 0, 100_000);
    // model_name and target_model_name share one cap: a rewrite's targets are model names like the requested ones.
    this.models = new BoundedLabel(maxModels);
    this.objectives = new BoundedLabel(maxModels);
    this.tenants = new TenantLabels(maxTenants, options.tenantLabel);
    this.clock = options.clock ?? systemClock;
    const name = (base: string): string => this.ctx.name(base);
    const registers = [registry];

    this.queueDuration = new Histogram({
      name: name(GO_METRICS.queueDuration),
      help: 'Time requests spent in flow control, from enqueue to outcome (0 for rejections), seconds.',
      labelNames: ['priority', 'outcome', 'inference_pool'],
      buckets: [...BUCKETS.queueSeconds],
      registers,
    });
    this.dispatchCycle = new Histogram({
      name: name(GO_METRICS.dispatchCycleDuration),
      help: 'Duration of each flow-control dispatch cycle, seconds.',
      buckets: [...BUCKETS.fastSeconds],
      registers,
    });
    // The two counters every request adds to count through DeferredCounters, which flush at each collect.
    const deferred: { requests?: DeferredCounter<ModelLabel | 'objective'>; served?: DeferredCounter<'fairness_id'> } = {};
    const requestLabels = ['model_name', 'target_model_name', 'objective'] as const;
    this.requests = deferred.requests = new DeferredCounter(
      new Counter({
        name: name(GO_METRICS.requestTotal),
        help: 'Requests that reached a routing decision (routed or rejected), per model and objective.',
        labelNames: requestLabels,
        registers,
        collect() {
          deferred.requests?.flush();
        },
      }),
      requestLabels,
    );
    this.requestDuration = new Histogram({
      name: name(GO_METRICS.requestDuration),
      help: 'From arrival to the end of a completed response, seconds.',
      labelNames: ['model_name', 'target_model_name'],
      buckets: [...BUCKETS.requestSeconds],
      registers,
    });
    this.inputTokens = new Histogram({
      name: name(GO_METRICS.inputTokens),
      help: 'Prompt tokens of completed requests, as the model server reported them.',
      labelNames: ['model_name', 'target_model_name'],
      buckets: [...BUCKETS.inputTokens],
      registers,
    });
    this.outputTokens = new Histogram({
      name: name(GO_METRICS.outputTokens),
      help: 'Output tokens of completed requests, as the model server reported them.',
      labelNames: ['model_name', 'target_model_name'],
      buckets: [...BUCKETS.outputTokens],
      registers,
    });
    this.schedulerDuration = new Histogram({
      name: name(GO_METRICS.schedulerE2eDuration),
      help: 'Time to pick the endpoint(s) for a dispatched request, seconds.',
      buckets: [...BUCKETS.fastSeconds],
      registers,
    });
    this.shed = new Counter({
      name: name(FAIRWAY_METRICS.shedRequests),
      help: `Requests answered without being routed, by drop reason, priority and HTTP status (priority "${REFUSED_PRIORITY}": refused by the front end before the request's identity was read).`,
      labelNames: ['reason', 'priority', 'status'],
      registers,
    });
    this.connectFailures = new Counter({
      name: name(FAIRWAY_METRICS.upstreamConnectFailures),
      help: 'Proxy mode: connections to a model server that failed before anything was sent, by what followed (retried on the next candidate, or exhausted: answered 503).',
      labelNames: ['outcome'],
      registers,
    });
    this.fallbackServed = new Counter({
      name: name(FAIRWAY_METRICS.fallbackServed),
      help: 'Routed requests served by a fallback endpoint instead of the primary (proxy retry, or Envoy reporting x-gateway-destination-endpoint-served); their in-flight count and prefix records moved to it.',
      registers,
    });
    this.rewrites = new Counter({
      name: name(GO_METRICS.modelRewriteDecisions),
      help: 'Requests whose model an InferenceModelRewrite rule rewrote, per rewrite, requested and target model.',
      labelNames: ['model_rewrite_name', 'model_name', 'target_model'],
      registers,
    });
    this.evictions = new EvictionMetrics(this.ctx);
    this.scrapes = new ScrapeMetrics(this.ctx);
    const tenants = this.tenants;
    const service = (): TenantServiceReadout | undefined => this.tenantService;
    this.servedTokens = deferred.served = new DeferredCounter(
      new Counter({
        name: name(FAIRWAY_METRICS.tenantServedTokens),
        help: `Tokens served per tenant (actual usage, else the estimate). At most ${maxTenants} tenants have their own series; the rest are summed under __other__.`,
        labelNames: ['fairness_id'],
        registers,
        collect(this: Counter<'fairness_id'>) {
          // What was served up to now is in the series before idle ones are handed on.
          deferred.served?.flush();
          // Hand idle tenants' series to the busiest unlabelled ones; their sum stays the exact total.
          const recent = service()?.recentService();
          if (recent !== undefined) for (const label of tenants.rebalance(recent)) this.remove({ fairness_id: label });
        },
      }),
      ['fairness_id'],
    );
  }

  // --- FlowControlObserver ---

  onOutcome(event: OutcomeEvent): void {
    this.queueDuration.observe(
      { priority: String(event.priority), outcome: goQueueOutcome(event), inference_pool: this.ctx.poolName },
      event.waitMs / 1000,
    );
  }

  onDispatchCycle(durationMs: number, _dispatched: number): void {
    this.dispatchCycle.observe(durationMs / 1000);
  }

  onRelease(_priority: number, fairnessId: string, estimatedCost: number, actualCost: number | undefined): void {
    // The same figure fairness accounting settles on: the reported usage, else the estimate charged at dispatch.
    const tokens = actualCost ?? estimatedCost;
    if (!(tokens > 0)) return;
    this.servedTokens.inc([this.tenants.of(fairnessId)], tokens);
  }

  onInflightEviction(event: InflightEvictionEvent): void {
    this.evictions.record(event);
  }

  // --- GatewayObserver ---

  onDecision(event: DecisionEvent): void {
    const model = this.models.of(event.model);
    const target = this.models.of(event.targetModel);
    this.requests.inc([model, target, this.objectives.of(event.objective)]);
    // Rewrite names come from the operator's own rules, so they need no cap.
    if (event.rewrite !== undefined) this.rewrites.inc({ model_rewrite_name: event.rewrite, model_name: model, target_model: target });
    const routed = event.result === 'routed';
    // A failed pick also took scheduling time; a zero without routing means no pick was attempted.
    if (routed || event.scheduleMs > 0) this.schedulerDuration.observe(event.scheduleMs / 1000);
    if (!routed) {
      this.shed.inc({ reason: event.result, priority: String(event.priority), status: String(event.status) });
    }
  }

  onResponse(event: ResponseEvent): void {
    if (event.how !== 'complete') return;
    const labels = { model_name: this.models.of(event.model), target_model_name: this.models.of(event.targetModel) };
    this.requestDuration.observe(labels, event.durationMs / 1000);
    // As the Go reference: a missing or zero count is no observation.
    if (event.promptTokens !== undefined && event.promptTokens > 0) this.inputTokens.observe(labels, event.promptTokens);
    if (event.outputTokens !== undefined && event.outputTokens > 0) this.outputTokens.observe(labels, event.outputTokens);
  }

  onConnectFailure(event: ConnectFailureEvent): void {
    this.connectFailures.inc({ outcome: event.retried ? 'retried' : 'exhausted' });
  }

  onServed(event: ServedEvent): void {
    if (event.fallback === true) this.fallbackServed.inc();
  }

  onRefused(event: RefusedEvent): void {
    // Refused before identity was read: no band to name.
    this.shed.inc({ reason: event.reason, priority: REFUSED_PRIORITY, status: String(event.status) });
  }

  // --- scrape-time sources ---

  /**
   * The fairness gauges (Jain's index, active tenants) and the choice of labelled tenants, from the one ledger of
   * served tokens per tenant (the status recorder's; fed by the same events as this adapter). Once.
   */
  bindTenantService(readout: TenantServiceReadout): void {
    if (this.tenantService !== undefined) throw new FairwayError('ERR_ALREADY_BOUND', 'FairwayMetrics.bindTenantService called twice');
    this.tenantService = readout;
    const registers = [this.ctx.registry];
    new Gauge({
      name: this.ctx.name(FAIRWAY_METRICS.fairnessJainIndex),
      help:
        `Jain's index (sum x)^2 / (n sum x^2) over x = tokens served / tenant weight (exponentially weighted, time constant ` +
        `${readout.decayTicks} s), for the n tenants active in the last ${readout.activeTicks} s (served, queued or given any ` +
        'flow-control outcome). 1 = equal weighted shares, 1/n = one tenant has all.',
      registers,
      collect(this: Gauge) {
        this.set(readout.jainIndex());
      },
    });
    new Gauge({
      name: this.ctx.name(FAIRWAY_METRICS.fairnessActiveTenants),
      help: `Tenants active in the last ${readout.activeTicks} s (the n of ${FAIRWAY_METRICS.fairnessJainIndex}).`,
      registers,
      collect(this: Gauge) {
        this.set(readout.activeTenants);
      },
    });
  }

  /** Queue depth/bytes per band, flows, ceilings, in-flight and live flows, read from `stats` at each scrape. Once. */
  bindFlowControl(stats: () => FlowControlStats): void {
    if (this.flowControlBound) throw new FairwayError('ERR_ALREADY_BOUND', 'FairwayMetrics.bindFlowControl called twice');
    this.flowControlBound = true;
    registerFlowControlGauges(this.ctx, stats, () => this.clock.now());
  }

  /**
   * Adds a saturation detector. The first one bound is the pool's figure (the one gating flow control): it feeds
   * pool saturation, stale endpoints and per-endpoint saturation; every one feeds `fairway_saturation{detector}`.
   */
  bindSaturation(detector: SaturationReadout): void {
    if (this.detectors.some((d) => d.name === detector.name)) {
      throw new FairwayError('ERR_ALREADY_BOUND', `FairwayMetrics.bindSaturation: detector ${detector.name} is already bound`);
    }
    this.detectors.push(detector);
    if (this.detectors.length === 1) registerSaturationGauges(this.ctx, this.detectors);
  }

  /** Shared-state gauges (up, peers, scrape leadership) and sync-round metrics; returns the exchange's observer. */
  bindSharedState(stats: () => ExchangeStats | undefined): ExchangeObserver {
    return registerSharedStateMetrics(this.ctx, stats);
  }

  /** Requests not yet routed, by stage, priority and target model (what a KEDA ScaledObject scales on). */
  bindPending(read: () => readonly PendingCount[]): void {
    registerScrapeGauge(
      this.ctx.registry,
      this.ctx.logger,
      {
        name: this.ctx.name(FAIRWAY_METRICS.pendingRequests),
        help: 'Requests not yet routed: waiting for the pool\'s first endpoint (scale from zero) or queued in flow control, by priority and target model.',
        labelNames: ['stage', 'priority', 'target_model_name'],
      },
      (g) => {
        for (const p of read()) g.inc({ stage: p.stage, priority: String(p.priority), target_model_name: this.models.of(p.targetModel) }, p.requests);
      },
    );
  }

  /**
   * Pool averages (KV cache, server queue), endpoint counts and, given `reachability`, whether any endpoint
   * answers (`fairway_pool_reachable`), read at each scrape. Once.
   */
  bindPool(pool: PoolView, reachability?: ReachabilityView): void {
    if (this.poolBound) throw new FairwayError('ERR_ALREADY_BOUND', 'FairwayMetrics.bindPool called twice');
    this.poolBound = true;
    registerPoolGauges(this.ctx, pool, reachability);
    this.scrapes.bindPool(pool);
  }
}
