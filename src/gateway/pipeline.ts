// The request pipeline behind both front ends: identify, parse, queue in flow control, schedule at the moment of
// dispatch, and account for the response when it ends.
import { type Context, ROOT_CONTEXT, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { type Clock, type Logger, noopLogger, systemClock } from '../core/index.js';
import { type InflightTicket, type InflightView, type PoolView } from '../datalayer/index.js';
import { type EvictionTarget, type FlowRequest, type Lease, type Outcome } from '../flowcontrol/index.js';
import { MAX_ENDPOINT_COUNT, type RoutingRecord, type ScheduleRequest, type ScheduleResult } from '../scheduler/index.js';
import { type Decision, type InferenceRequest, type RejectDecision, type RequestHandler, type ResponseObserver } from './contract.js';
import { EvictionRelay } from './eviction-relay.js';
import { StreamProgress } from './stream-progress.js';
import { type ParsedBody, parseRequestBody } from './body-parser.js';
import { CONTROL_HEADERS, controlHeaderValue, identityHeadersOf, readControlHeaders } from './control-headers.js';
import { HEADER_MODEL_NAME } from './contract.js';
import { withBodyModel } from './rewrite/body-model.js';
import { type BodyBytes } from './body/request-body.js';
import { type RewriteDecision } from './rewrite/model-rewriter.js';
import { type GatewayObserver, type RequestLabels, noopGatewayObserver, reportRefusal } from './observer.js';
import {
  DEFAULT_RETRY_ADVICE,
  MODEL_UNAVAILABLE,
  type RetryAdvice,
  badHeader,
  badRequest,
  modelNotFound,
  rejectionFor,
  unavailable,
  unschedulable,
} from './outcome-response.js';
import { type IdentityOptions, resolveIdentity } from './request-identity.js';
import { UsageReader } from './usage-reader.js';
import { type PendingCount, PendingRequests } from './pending-requests.js';
import { EndpointWaitingRoom } from './waiting-room.js';

/** Ports the pipeline needs; each is satisfied by the real subsystem and by small fakes in tests. */
export interface FlowControlPort {
  enqueueAndWait(
    request: FlowRequest,
    options: { signal?: AbortSignal; onDispatch?: (lease: Lease) => void; evictionTarget?: EvictionTarget },
  ): Promise<Outcome>;
}
export interface SchedulerPort {
  schedule(request: ScheduleRequest, pool: ReturnType<PoolView['current']>, inflight: InflightView): ScheduleResult;
  /** The real scheduler returns what it recorded, so a fallback that serves can take it back from the primary. */
  recordRouting(prefixHashes: ArrayLike<number>, endpoint: { readonly id: string }): RoutingRecord | void;
  /** Takes back what was recorded for an endpoint beyond the blocks it held before (the request went elsewhere). */
  forgetRouting?(prefixHashes: ArrayLike<number>, endpointId: string, record: RoutingRecord): void;
  /** Whether any endpoint serves `model` (multi-model pools); absent: every endpoint serves every model. */
  modelAvailability?(model: string, pool: ReturnType<PoolView['current']>): 'served' | 'not-found' | 'down';
  /** The session-affinity response header (name, token) naming the endpoint that served, when the profile has such a scorer. */
  sessionResponseHeader?(endpointId: string): readonly [string, string] | undefined;
}
export interface PrefixHasherPort {
  /** `body` is the scanned prompt (ParsedBody.prompt): strings may be byte ranges of the body (PromptBytes). */
  hashBody(body: unknown, model?: string): Float64Array;
}
/** Resolves model-name rewrites (InferenceModelRewrite rules); src/gateway/rewrite's ModelRewriter implements it. */
export interface ModelRewritePort {
  resolve(model: string): RewriteDecision | undefined;
}
export interface InflightPort extends InflightView {
  /** `unstartedTokens`: the prompt of a streamed request, counted as prefill the server still owes until `started`. */
  begin(endpointId: string, estimatedTokens: number, unstartedTokens?: number): InflightTicket;
  /** The first response byte arrived (prefill done); releases the ticket's unstarted tokens once. */
  started(ticket: InflightTicket): boolean;
  end(ticket: InflightTicket): boolean;
  /** Moves a request's count to the endpoint that really served it (no finished-work credit where it was). */
  move(ticket: InflightTicket, endpointId: string): InflightTicket;
}

/** Characters per token for the pre-dispatch estimate; the actual usage corrects it at release. */
export const CHARS_PER_TOKEN = 4;
export const DEFAULT_EXPECTED_OUTPUT_TOKENS = 256;
/**
 * No fallback in `x-gateway-destination-endpoint` by default: Envoy's ORIGINAL_DST cluster (our example, and the
 * Go project's own standalone Envoy) reads that header as one address, so a list would fail every request there.
 * Gateways that walk the list on retry (the protocol's v0.4 fallbacks) can raise `scheduler.fallbackEndpoints`.
 */
export const DEFAULT_FALLBACK_ENDPOINTS = 0;
export const DEFAULT_MAX_ESTIMATED_TOKENS = 1_000_000;

export interface PipelineOptions {
  readonly flowControl: FlowControlPort;
  readonly scheduler: SchedulerPort;
  readonly hasher: PrefixHasherPort;
  readonly pool: PoolView;
  readonly inflight: InflightPort;
  readonly identity: IdentityOptions;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly observer?: GatewayObserver;
  readonly retry?: RetryAdvice;
  /** Output tokens assumed when the request sets no max_tokens. @default 256 */
  readonly expectedOutputTokens?: number;
  /** Fallback endpoints sent after the primary when the front end does not ask for a count. @default 0 */
  readonly fallbackEndpoints?: number;
  /** Upper bound of a request's estimated cost in tokens (prompt + output). @default 1,000,000 */
  readonly maxEstimatedTokens?: number;
  /**
   * Scale from zero: while the pool has no endpoints at all, a request waits up to this long (ms) for one to
   * appear, then goes on to flow control with a fresh TTL. @default undefined (503 no-endpoints at once)
   */
  readonly noEndpointTtlMs?: number;
  /** Model-name rewrites and weighted splits. @default none */
  readonly rewriter?: ModelRewritePort;
}

interface Placement {
  readonly result: ScheduleResult;
  readonly ticket: InflightTicket | undefined;
  /** What recording the prompt's prefix on the primary left, to take back if a fallback serves. */
  readonly held: RoutingRecord | undefined;
  readonly scheduleMs: number;
}

/** Where a routed request was sent, for moving its accounting if a fallback serves it. */
interface Routing {
  readonly primary: string;
  readonly hashes: Float64Array;
  readonly held: RoutingRecord | undefined;
}

const headerGetter = {
  keys: (carrier: ReadonlyMap<string, string>) => [...carrier.keys()],
  get: (carrier: ReadonlyMap<string, string>, key: string) => carrier.get(key),
};

/** What a configuration reload may change in a running pipeline; each field applies to the next request. */
export interface LivePipelineOptions {
  readonly identity?: IdentityOptions;
  readonly retry?: RetryAdvice;
  readonly expectedOutputTokens?: number;
  readonly fallbackEndpoints?: number;
  /** `null` turns the waiting room off. */
  readonly noEndpointTtlMs?: number | null;
}

/** Whether a request's decision has reached the observer (one per request, so each is counted once). */
interface ReportedOutcome {
  reported: boolean;
}

export class RequestPipeline implements RequestHandler {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly observer: GatewayObserver;
  private retry: RetryAdvice;
  private identity: IdentityOptions;
  private noEndpointTtlMs: number | undefined;
  private readonly waitingRoom: EndpointWaitingRoom;
  private readonly pending = new PendingRequests();
  private expectedOutput: number;
  private endpointCount: number;
  private readonly maxEstimatedTokens: number;
  private identityHeaders: readonly string[];
  private readonly tracer = trace.getTracer('fairway');

  constructor(private readonly o: PipelineOptions) {
    this.clock = o.clock ?? systemClock;
    this.logger = o.logger ?? noopLogger;
    this.observer = o.observer ?? noopGatewayObserver;
    this.retry = o.retry ?? DEFAULT_RETRY_ADVICE;
    this.identity = o.identity;
    this.expectedOutput = o.expectedOutputTokens ?? DEFAULT_EXPECTED_OUTPUT_TOKENS;
    this.endpointCount = 1 + (o.fallbackEndpoints ?? DEFAULT_FALLBACK_ENDPOINTS);
    this.maxEstimatedTokens = o.maxEstimatedTokens ?? DEFAULT_MAX_ESTIMATED_TOKENS;
    this.identityHeaders = identityHeadersOf(o.identity.mode, o.identity.tenantHeader);
    this.noEndpointTtlMs = o.noEndpointTtlMs;
    this.waitingRoom = new EndpointWaitingRoom(o.pool, this.clock);
  }

  /** Requests not yet routed (waiting for an endpoint, or queued in flow control), by priority and target model. */
  pendingRequests(): PendingCount[] {
    return this.pending.snapshot();
  }

  /** Shutting down: requests in the waiting room are answered 503 shutdown, and no more wait there. */
  close(): void {
    this.waitingRoom.close();
  }

  /** Applies reloaded settings; requests already in the pipeline keep what they started with. */
  reconfigure(live: LivePipelineOptions): void {
    if (live.identity !== undefined) {
      this.identity = live.identity;
      this.identityHeaders = identityHeadersOf(live.identity.mode, live.identity.tenantHeader);
    }
    if (live.retry !== undefined) this.retry = live.retry;
    if (live.expectedOutputTokens !== undefined) this.expectedOutput = live.expectedOutputTokens;
    if (live.fallbackEndpoints !== undefined) this.endpointCount = 1 + live.fallbackEndpoints;
    if (live.noEndpointTtlMs !== undefined) this.noEndpointTtlMs = live.noEndpointTtlMs ?? undefined;
  }

  async handle(request: InferenceRequest): Promise<Decision> {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers, headerGetter);
    const span = this.tracer.startSpan('fairway.request', { attributes: { 'http.request.method': request.method, 'url.path': request.path } }, parent);
    // Set once the request's outcome is reported, so a later throw is not counted a second time as a refusal.
    const report: ReportedOutcome = { reported: false };
    try {
      const decision = await this.decide(request, trace.setSpan(parent, span), report);
      span.setAttribute('fairway.decision', decision.kind === 'route' ? 'routed' : decision.reason);
      if (decision.kind === 'reject') span.setStatus({ code: SpanStatusCode.ERROR, message: decision.reason });
      return decision;
    } catch (err) {
      // The unexpected: log it, answer 500, never leave the request without an outcome.
      this.logger.error({ err, requestId: request.requestId }, 'request pipeline failed');
      span.recordException(err as Error);
      // Counted as the front ends count their own refusals: what the pipeline knew of the request is not trusted.
      if (!report.reported) reportRefusal(this.observer, { reason: 'internal', status: 500 }, this.logger, request.requestId);
      return { kind: 'reject', status: 500, reason: 'internal', message: 'internal error while routing the request' };
    } finally {
      span.end();
    }
  }

  private async decide(request: InferenceRequest, ctx: Context, report: ReportedOutcome): Promise<Decision> {
    const arrivedAt = this.clock.now();
    const identity = resolveIdentity(request.headers, this.identity);
    const control = readControlHeaders(request.headers, this.identityHeaders);
    if (!control.ok) {
      const labels = { model: '', targetModel: '', objective: identity.objective ?? '', fairnessId: identity.fairnessId, priority: identity.priority };
      return this.finishReject(report, badHeader(control.message), labels, 0, 0);
    }
    const isHeaderOnly = request.body.length === 0 && request.method !== 'POST';
    let body: ParsedBody | undefined;
    if (!isHeaderOnly) {
      const parsed = parseRequestBody(request.path, request.body);
      if (!parsed.ok) {
        const labels = { model: '', targetModel: '', objective: identity.objective ?? '', fairnessId: identity.fairnessId, priority: identity.priority };
        return this.finishReject(report, badRequest(parsed.message), labels, 0, 0);
      }
      body = parsed.body;
    }
    const target = body !== undefined ? this.targetOf(body, request.body, request.headers) : undefined;
    const labels: RequestLabels = {
      model: body?.model ?? '',
      targetModel: target?.model ?? body?.model ?? '',
      ...(target?.rewrite !== undefined ? { rewrite: target.rewrite } : {}),
      objective: identity.objective ?? '',
      fairnessId: identity.fairnessId,
      priority: identity.priority,
    };
    let pool = this.o.pool.current();
    if (pool.endpoints.length === 0) {
      const waited = await this.waitForEndpoints(request, control.values.ttlMs, labels);
      if (waited !== undefined) return this.finishReject(report, waited, labels, this.clock.now() - arrivedAt, 0);
      pool = this.o.pool.current();
    }
    if (request.subsetHint !== undefined) {
      const allowed = new Set(request.subsetHint);
      if (!pool.endpoints.some((e) => allowed.has(e.id))) {
        return this.finishReject(
          report,
          unavailable('empty-subset', `none of the ${request.subsetHint.length} endpoints in the subset hint is in the pool`, this.retry),
          labels,
          0,
          0,
        );
      }
    }
    // A model nobody serves is answered now, not after a wait in the queue; dispatch checks again (pools change).
    const availability = body !== undefined ? this.o.scheduler.modelAvailability?.(labels.targetModel, pool) : undefined;
    if (availability === 'not-found') return this.finishReject(report, modelNotFound(notServed(labels)), labels, 0, 0);
    if (availability === 'down') {
      const message = `every endpoint serving the model \`${labels.targetModel}\` is down`;
      return this.finishReject(report, unavailable(MODEL_UNAVAILABLE, message, this.retry), labels, 0, 0);
    }
    // The model server caches prompts per model it serves, so prefix hashes are seeded with the target model.
    const hashes = body !== undefined ? this.o.hasher.hashBody(body.prompt, labels.targetModel) : new Float64Array(0);
    body?.release(); // the prompt's decoded bytes go back to their pool
    const promptTokens = Math.ceil(request.body.length / CHARS_PER_TOKEN);
    // Clamped: `max_tokens: 1e308` is legal JSON and must not buy (or cost) a tenant the whole band.
    const estimatedCost = Math.min(this.maxEstimatedTokens, promptTokens + (body?.maxTokens ?? (body !== undefined ? this.expectedOutput : 0)));
    const scheduleRequest: ScheduleRequest = {
      model: body?.model ?? '',
      targetModel: labels.targetModel,
      prefixHashes: hashes,
      estimatedTokens: estimatedCost,
      subsetHint: request.subsetHint,
      endpointCount: endpointCountOf(request, this.endpointCount),
      headers: request.headers,
    };

    // Picking happens inside the dispatch itself, so the in-flight count rises before the gate is asked again.
    // What dispatch hands out (the lease, the in-flight ticket) is released in `finally` on every path that does
    // not pass it on to the response observer, exceptions included.
    let placement: Placement | undefined;
    let placementError: Error | undefined;
    let lease: Lease | undefined;
    const place = (dispatched: Lease): void => {
      dequeued();
      lease = dispatched;
      try {
        const pacedRequest = dispatched.pacePrefill === true ? { ...scheduleRequest, pacePrefill: true } : scheduleRequest;
        // Only a stream's first byte says when its prefill is done; a plain response's first byte is its last.
        placement = this.place(pacedRequest, hashes, estimatedCost, body?.stream === true ? promptTokens : 0, request.requestId);
      } catch (err) {
        // Flow control would only log it: keep it, so the request is answered 500 as the unexpected failure it is.
        placementError = err instanceof Error ? err : new Error('placing the request failed', { cause: err });
      }
    };
    const queueSpan = this.tracer.startSpan('fairway.flow_control', { attributes: { 'fairway.priority': identity.priority } }, ctx);
    const flowRequest: FlowRequest = {
      id: request.requestId,
      fairnessId: identity.fairnessId,
      priority: identity.priority,
      byteSize: request.body.length,
      estimatedCost,
      ttlMs: control.values.ttlMs,
      ttftSloMs: control.values.ttftSloMs,
      arrivedAt,
    };
    let handedOver = false;
    // Flow control may take the request back once dispatched (sheddable work only); the front end carries it out.
    const eviction = new EvictionRelay(this.retry);
    const dequeued = this.pending.add('queued', identity.priority, labels.targetModel);
    try {
      const outcome = await context.with(ctx, () =>
        this.o.flowControl.enqueueAndWait(flowRequest, { signal: request.signal, onDispatch: place, evictionTarget: eviction }),
      );
      if (placementError !== undefined) throw placementError;
      const queueMs = this.clock.now() - arrivedAt;
      queueSpan.setAttribute('fairway.outcome', outcome.kind === 'dispatched' ? 'dispatched' : `${outcome.kind}:${outcome.reason}`);
      if (outcome.kind !== 'dispatched') {
        return this.finishReject(report, rejectionFor(outcome, this.o.pool.current().endpoints.length > 0, this.retry), labels, queueMs, 0);
      }
      const p = placement;
      if (p === undefined || p.result.kind !== 'scheduled' || p.ticket === undefined) {
        const message = p?.result.kind === 'unschedulable' ? p.result.message : 'no endpoint could be picked';
        const reason = p?.result.kind === 'unschedulable' ? p.result.reason : 'no-endpoints';
        return this.finishReject(report, unschedulable(reason, message, this.retry), labels, queueMs, p?.scheduleMs ?? 0);
      }
      if (request.signal.aborted) {
        // The client left between dispatch and now: the capacity goes back at once (in `finally`).
        return this.finishReject(report, { kind: 'reject', status: 499, reason: 'cancelled', message: 'client went away' }, labels, queueMs, p.scheduleMs);
      }
      const evictedAlready = eviction.pending ? eviction.answer : undefined;
      if (evictedAlready !== undefined) {
        // Taken back before it could be routed: nothing was sent anywhere, and the tenant is charged nothing.
        eviction.close();
        outcome.lease.release({ promptTokens: 0, outputTokens: 0 });
        lease = undefined; // released here, with the zero charge
        return this.finishReject(report, evictedAlready, labels, queueMs, p.scheduleMs);
      }
      const endpoints = p.result.endpoints.map((e) => e.id);
      this.tracer
        .startSpan('fairway.schedule', { attributes: { 'fairway.endpoint': endpoints[0] ?? '' } }, ctx)
        .end();
      report.reported = true;
      this.observer.onDecision({ ...labels, result: 'routed', status: 200, queueMs, scheduleMs: p.scheduleMs, endpoint: endpoints[0] });
      const setHeaders = new Map<string, string>();
      propagation.inject(ctx, setHeaders, { set: (carrier, key, value) => carrier.set(key, value) });
      // As body-based routing does, so HTTPRoutes and the model server's access logs can see the model.
      if (body !== undefined) setHeaders.set(HEADER_MODEL_NAME, labels.targetModel);
      const forwardBody = target?.body ?? request.body;
      const response = this.responseObserver(labels, arrivedAt, outcome.lease, p.ticket, { primary: endpoints[0] ?? '', hashes, held: p.held }, eviction);
      handedOver = true;
      if (!outcome.lease.evictable) {
        eviction.close();
        return { kind: 'route', endpoints, body: forwardBody, setHeaders, response };
      }
      return { kind: 'route', endpoints, body: forwardBody, setHeaders, response, eviction };
    } finally {
      dequeued();
      queueSpan.end();
      if (!handedOver) {
        eviction.close();
        lease?.release();
        if (placement?.ticket !== undefined) this.o.inflight.end(placement.ticket);
      }
    }
  }

  /**
   * The pool has no endpoints at all. Without a waiting room that is 503 no-endpoints at once; with one, the request
   * waits (within its own TTL too) for an endpoint to appear. Returns the rejection, or undefined to go on.
   */
  private async waitForEndpoints(request: InferenceRequest, requestTtlMs: number | undefined, labels: RequestLabels): Promise<RejectDecision | undefined> {
    const roomTtl = this.noEndpointTtlMs;
    if (roomTtl === undefined) return unavailable('no-endpoints', 'no model-server endpoints in the pool', this.retry);
    const ttl = Math.min(roomTtl, requestTtlMs ?? Infinity);
    const left = this.pending.add('waiting-for-endpoints', labels.priority, labels.targetModel);
    try {
      switch (await this.waitingRoom.wait(ttl, request.signal)) {
        case 'ready':
          return undefined;
        case 'cancelled':
          return { kind: 'reject', status: 499, reason: 'cancelled', message: 'client went away while waiting for an endpoint' };
        case 'shutdown':
          return unavailable('shutdown', 'shutting down', this.retry);
        case 'timeout':
          return unavailable('no-endpoints', `no model-server endpoint appeared within ${ttl} ms`, this.retry);
      }
    } finally {
      left();
    }
  }

  /**
   * The model the request is served as. A trusted `x-llm-d-model-name-rewrite` (or `x-gateway-model-name-rewrite`)
   * header names it; a rewrite rule matching the requested model decides over the header, as in the Go EPP. When
   * the target differs, the body is rewritten (only the model's bytes change; the other chunks are reused).
   */
  private targetOf(body: ParsedBody, raw: BodyBytes, headers: ReadonlyMap<string, string>): { model: string; rewrite?: string; body?: BodyBytes } {
    const hinted = this.identity.mode === 'trusted' ? controlHeaderValue(headers, CONTROL_HEADERS.modelRewrite)?.trim() : undefined;
    const rule = this.o.rewriter?.resolve(body.model);
    const model = rule?.target ?? (hinted !== undefined && hinted !== '' ? hinted : body.model);
    if (model === body.model) return { model, ...(rule !== undefined ? { rewrite: rule.rewrite } : {}) };
    return { model, body: withBodyModel(raw, body.modelRange, model), ...(rule !== undefined ? { rewrite: rule.rewrite } : {}) };
  }

  /** Picks the endpoint and counts the request in flight there; runs inside the dispatch. */
  private place(scheduleRequest: ScheduleRequest, hashes: Float64Array, estimatedCost: number, unstartedTokens: number, requestId: string): Placement {
    const t0 = this.clock.now();
    const result = this.o.scheduler.schedule(scheduleRequest, this.o.pool.current(), this.o.inflight);
    const primary = result.kind === 'scheduled' ? result.endpoints[0] : undefined;
    const ticket = primary !== undefined ? this.o.inflight.begin(primary.id, estimatedCost, unstartedTokens) : undefined;
    let held: RoutingRecord | undefined;
    if (primary !== undefined && hashes.length > 0) {
      try {
        held = this.o.scheduler.recordRouting(hashes, primary) ?? undefined;
      } catch (err) {
        this.logger.error({ err, requestId }, 'recording the prefix routing failed; routing anyway');
      }
    }
    return { result, ticket, held, scheduleMs: this.clock.now() - t0 };
  }

  private responseObserver(
    labels: RequestLabels,
    arrivedAt: number,
    lease: Lease,
    ticket: InflightTicket | undefined,
    routing: Routing,
    eviction: EvictionRelay,
  ): ResponseObserver {
    const usage = new UsageReader();
    // Counted only while the request may still be evicted: progress orders the victims.
    const progress = lease.evictable ? new StreamProgress() : undefined;
    let status = 0;
    let ended = false;
    let current = ticket;
    let moved = false;
    let servedBy = routing.primary;
    // The server's first byte (a body chunk, or the headers when no body passes here): its prefill is done.
    const started = (): void => {
      if (current !== undefined && current.unstartedTokens > 0 && !ended) this.o.inflight.started(current);
    };
    return {
      onConnectFailed: (endpoint, retrying) => this.observer.onConnectFailure?.({ endpoint, retried: retrying }),
      onServedEndpoint: (endpoint) => {
        const fallback = endpoint !== routing.primary;
        this.observer.onServed?.({ endpoint, fallback });
        servedBy = endpoint;
        // Reported once per request (ext_proc on the response path, the proxy after its connect retries).
        if (fallback && !moved && !ended) {
          moved = true;
          current = this.moveToServed(current, endpoint, routing);
        }
      },
      responseHeaders: () => {
        const session = servedBy === '' ? undefined : this.o.scheduler.sessionResponseHeader?.(servedBy);
        return session === undefined ? undefined : new Map([session]);
      },
      onHeaders: (s, headers) => {
        status = s;
        usage.onHeaders(headers);
      },
      onResponseStarted: started,
      onBody: (chunk) => {
        started();
        usage.onBody(chunk);
        if (progress !== undefined && lease.evictable) {
          progress.onChunk(chunk);
          lease.reportProgress(progress.outputTokens);
        }
      },
      onEnd: (how) => {
        if (ended) return;
        ended = true;
        eviction.close();
        const u = how === 'complete' ? usage.usage() : undefined;
        // An evicted request's tenant is charged nothing: the client got none of the work.
        lease.release(how === 'evicted' ? { promptTokens: 0, outputTokens: 0 } : u);
        if (current !== undefined) this.o.inflight.end(current);
        this.observer.onResponse({
          ...labels,
          status,
          how,
          durationMs: this.clock.now() - arrivedAt,
          promptTokens: u?.promptTokens,
          outputTokens: u?.outputTokens,
        });
      },
    };
  }

  /**
   * A fallback served: the request's in-flight count moves from the primary to it, and so does its prompt's prefix
   * (the fallback's cache holds it now; the primary keeps only the blocks it held before this request).
   */
  private moveToServed(ticket: InflightTicket | undefined, endpointId: string, routing: Routing): InflightTicket | undefined {
    // O(pool), on the rare fallback only.
    const served = this.o.pool.current().endpoints.find((e) => e.id === endpointId);
    if (served === undefined) {
      this.logger.debug({ endpoint: endpointId }, 'the served endpoint is not in the pool; accounting stays with the primary');
      return ticket;
    }
    const moved = ticket === undefined ? undefined : this.o.inflight.move(ticket, endpointId);
    if (routing.hashes.length > 0) {
      try {
        this.o.scheduler.recordRouting(routing.hashes, served);
        if (routing.held !== undefined) this.o.scheduler.forgetRouting?.(routing.hashes, routing.primary, routing.held);
      } catch (err) {
        this.logger.error({ err, endpoint: endpointId }, 'moving the prefix routing to the served endpoint failed');
      }
    }
    return moved;
  }

  private finishReject(report: ReportedOutcome, decision: Decision & { kind: 'reject' }, labels: RequestLabels, queueMs: number, scheduleMs: number): Decision {
    report.reported = true;
    this.observer.onDecision({ ...labels, result: decision.reason, status: decision.status, queueMs, scheduleMs, endpoint: undefined });
    return decision;
  }
}

/** The front end's count when it asks for one (clamped to what the scheduler returns), else the configured one. */
function endpointCountOf(request: InferenceRequest, configured: number): number {
  const asked = request.endpointCount;
  if (asked === undefined || !Number.isFinite(asked)) return configured;
  return Math.min(MAX_ENDPOINT_COUNT, Math.max(1, Math.floor(asked)));
}

/** The 404's message: the model, and what the client asked for when a rewrite chose it. */
function notServed(labels: RequestLabels): string {
  const asked = labels.targetModel !== labels.model ? ` (requested as \`${labels.model}\`)` : '';
  return `The model \`${labels.targetModel}\`${asked} is not served by any endpoint of this pool.`;
}
