// The flow controller: admits requests into priority bands and fair-share flows, holds them while the pool is
// saturated, and dispatches as many as the gate allows whenever something changes. Every request gets exactly
// one outcome, as a value.
import { type Clock, type Logger, type TimerHandle, noopLogger, systemClock } from '../core/index.js';
import { type Band } from './band.js';
import { BandSet } from './band-set.js';
import { ExpiryTracker } from './expiry-tracker.js';
import { type Flow } from './flow.js';
import { type EvictionEntry, InflightEvictionIndex } from './inflight-eviction.js';
import { LimitLedger } from './limit-ledger.js';
import { localBudget } from './pool-limits.js';
import { FlowLease, type LeaseAccount, type LeaseReleaser, actualTotal } from './lease.js';
import { type FlowControlObserver, noopFlowControlObserver } from './observer.js';
import { type FlowControllerOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Outbox } from './outbox.js';
import { QueueItem } from './queue-item.js';
import { type SaturationSource } from './saturation-port.js';
import {
  type ActualCost,
  type EnqueueOptions,
  type EvictReason,
  type FlowRequest,
  type InflightEviction,
  type Lease,
  type Outcome,
  type OutcomeCallback,
  type RejectReason,
} from './types.js';
import { validateFlowRequest } from './validate-request.js';

export interface BandStats {
  readonly priority: number;
  readonly name: string;
  readonly queuedRequests: number;
  readonly queuedBytes: number;
  readonly flows: number;
  readonly ceiling: number;
  /** Clock time (ms) the oldest queued request of the band was enqueued; undefined when none is queued. */
  readonly oldestEnqueuedAt: number | undefined;
}

/** One flow's queue, for the operator's view of who holds the queues. */
export interface FlowQueueStats {
  readonly fairnessId: string;
  readonly priority: number;
  readonly queuedRequests: number;
  /** Dispatched requests of the flow whose lease is not yet released (fast-path dispatches have no flow). */
  readonly inflight: number;
  readonly weight: number;
}

export interface FlowControlStats {
  readonly queuedRequests: number;
  readonly queuedBytes: number;
  /** Dispatched requests whose lease is not yet released. */
  readonly inflight: number;
  readonly liveFlows: number;
  /** Dispatched requests that may still be evicted in flight. */
  readonly evictableInflight: number;
  /** In-flight evictions carried out whose request has not yet let go of its capacity. */
  readonly evictionsOutstanding: number;
  /** Queued requests held by their tenant's concurrency cap (limits; this replica's part of it when shared). */
  readonly heldAtCaps: number;
  readonly bands: readonly BandStats[];
}

const NO_OPTIONS: EnqueueOptions = Object.freeze({});

/**
 * Complexity per dispatch: O(bands) to choose the band (bands are few and bounded by `maxBands`), O(1) or
 * O(log flows) to choose the flow, O(1) or O(log n) to take the item and drop its deadline. Enqueue is the same.
 */
/** What a live reconfiguration could not change in place (see BandSet.reconfigure). */
export interface ReconfigureReport {
  readonly kept: readonly { readonly priority: number; readonly field: 'fairness' | 'ordering' | 'overflow' }[];
}

/** Everything of FlowControllerOptions a live reconfiguration may change (not the ports it was built with). */
export type LiveFlowControlOptions = Omit<FlowControllerOptions, 'saturation' | 'clock' | 'logger' | 'observer'>;

export class FlowController {
  private options: ResolvedOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly observer: FlowControlObserver;
  private readonly saturation: SaturationSource;
  private readonly bands: BandSet;
  private readonly expiry: ExpiryTracker;
  /** Dispatched requests that may be taken back when higher-priority work is blocked (inflight-eviction.ts). */
  private readonly evictions: InflightEvictionIndex;
  /** Priority of the band the latest in-flight eviction made room for; a dispatch at or above it is progress. */
  private evictingFor: number | undefined;
  private seq = 0;
  private queued = 0;
  private queuedBytes = 0;
  private inflight = 0;
  /** Queued requests of tenants held at their concurrency cap (out of the fairness state; see `park`). */
  private parkedItems = 0;
  /** Per-tenant counts against the concurrency and queue caps (counting only once some cap is configured). */
  private readonly ledger: LimitLedger;
  private started = false;
  private draining = false;
  /** Set while the pool can take no work at all: why, for the outcome messages (see `setUnavailable`). */
  private unavailable: string | undefined;
  private closed = false;
  private inCycle = false;
  /** Every outcome goes through it: callers are called back only once an operation is complete. */
  private readonly outbox: Outbox;
  private cycleScheduled = false;
  private continuationPending = false;
  /** Dispatches since the engine last yielded to the event loop (see `runCycle`). */
  private sinceYield = 0;
  private fallback: TimerHandle | undefined;
  private unsubscribe: (() => void) | undefined;
  private drainPromise: Promise<void> | undefined;
  private drainResolve: (() => void) | undefined;
  private closePromise: Promise<void> | undefined;
  /** Skips building event objects nobody reads. */
  private readonly observing: boolean;
  /** One closure for every lease, not one per dispatch. */
  private readonly releaser: LeaseReleaser = (lease, actual) => this.release(lease, actual);

  constructor(options: FlowControllerOptions) {
    this.options = resolveOptions(options);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? noopLogger;
    this.observer = options.observer ?? noopFlowControlObserver;
    this.observing = this.observer !== noopFlowControlObserver;
    this.saturation = options.saturation;
    this.bands = new BandSet(this.options, this.clock, { exchange: options.fairnessExchange, wake: () => this.kick() });
    this.outbox = new Outbox(this.clock, this.logger, this.options.maxDispatchesPerCycle, () => this.checkDrained());
    this.expiry = new ExpiryTracker(this.clock, (item) => this.evictNow(item, 'ttl'));
    this.evictions = new InflightEvictionIndex(this.options.inflightEviction, this.clock.now());
    const budget = options.limitBudget ?? localBudget;
    this.ledger = new LimitLedger(this.options.limits, budget);
    budget.attach(this.ledger, () => this.budgetChanged());
  }

  /** Subscribes to saturation changes. Idempotent; `enqueueAndWait` calls it too. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.unsubscribe = this.saturation.onChange(() => this.kick());
  }

  /**
   * Admits `request` and resolves once it has its outcome. Never rejects for expected outcomes (capacity,
   * TTL, cancellation, shutdown: those are values); rejects only for invalid input, with an error naming the field.
   */
  enqueueAndWait(request: FlowRequest, options: EnqueueOptions = NO_OPTIONS): Promise<Outcome> {
    try {
      validateFlowRequest(request);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise<Outcome>((resolve) => this.submit(request, resolve, options));
  }

  /**
   * `enqueueAndWait` without the Promise: `onOutcome` is called exactly once with the outcome, possibly before
   * `enqueue` returns (a refusal, or a dispatch when nothing waits). Saves a Promise and its resolvers per request
   * for callers that are callbacks anyway (a gRPC stream handler, a benchmark's closed loop). Callbacks are never
   * nested: an `enqueue` made from inside `onOutcome` or `onDispatch` gets its outcome after the current callback
   * returns (see outbox.ts), so chains of requests cannot grow the stack. Throws (synchronously, naming the field)
   * only for invalid input, and then never calls `onOutcome`. An exception thrown by `onOutcome` is logged and
   * ignored: it cannot corrupt the queues.
   */
  enqueue(request: FlowRequest, onOutcome: OutcomeCallback, options: EnqueueOptions = NO_OPTIONS): void {
    validateFlowRequest(request);
    this.submit(request, onOutcome, options);
  }

  private submit(request: FlowRequest, onOutcome: OutcomeCallback, options: EnqueueOptions): void {
    this.outbox.enter();
    try {
      this.admitValid(request, onOutcome, options);
    } finally {
      this.outbox.leave();
    }
  }

  private admitValid(request: FlowRequest, onOutcome: OutcomeCallback, options: EnqueueOptions): void {
    this.start();
    if (this.draining) return this.refuse(request, 'shutdown', 'flow control is shutting down', onOutcome);
    if (this.unavailable !== undefined) return this.refuse(request, 'unavailable', this.unavailable, onOutcome);
    if (options.signal?.aborted === true) {
      return this.settleEarly(request, 'cancelled', 'request cancelled before enqueue', onOutcome);
    }

    const band = this.bands.band(request.priority);
    if (band === undefined) {
      const message = `priority ${request.priority}: no room for another priority band (limit ${this.options.maxBands})`;
      return this.refuse(request, 'capacity', message, onOutcome);
    }
    const now = this.clock.now();
    const arrivedAt = request.arrivedAt ?? now;
    const ttl = Math.min(this.options.defaultTtlMs, band.settings.ttlMs, request.ttlMs ?? Infinity);
    const expiresAt = Math.min(arrivedAt + ttl, request.deadlineAt ?? Infinity);
    if (now >= expiresAt) return this.settleEarly(request, 'ttl', 'request deadline passed before enqueue', onOutcome);

    // Fast path: nothing is waiting, so dispatching now cannot overtake anyone, and no per-tenant state is needed.
    // Not from inside another engine operation (an onDispatch hook that enqueues): that one is queued and
    // dispatched by a cycle, so a chain of such hooks cannot grow the stack. Not while another replica sharing
    // fairness has work queued in the band: then this request must be charged, and may have to wait its turn.
    if (
      this.queued === 0 &&
      !this.inCycle &&
      !this.outbox.nested &&
      // Below the tenant reserve only, and, while another tenant of the band has work, only while prefill pacing
      // leaves room: otherwise the cycle decides by the tenant's share (heldByReserve).
      this.saturation.saturation() < band.ceiling - this.options.tenantReserve &&
      ((this.saturation.pacedSaturation?.() ?? 0) < band.ceiling || !sharedByTenants(band, request.fairnessId, false)) &&
      band.fairness.contended?.() !== true &&
      (!this.ledger.tracking || (this.ledger.globalOpen() && this.ledger.tenantOpen(request.fairnessId)))
    ) {
      this.bands.flowlessLeaseBegan(band, request.fairnessId);
      const lease = new FlowLease(band, request.fairnessId, request.estimatedCost, now, this.releaser);
      this.dispatch(lease, request, options, 0, onOutcome);
      return;
    }

    const capped = this.ledger.tracking ? this.ledger.queueRefusal(request.fairnessId) : undefined;
    if (capped !== undefined) return this.refuse(request, 'capacity', capped, onOutcome);
    const flow = this.bands.flow(band, request.fairnessId);
    if (flow === undefined) {
      return this.refuse(request, 'flow-limit', `flow limit reached: ${this.options.maxFlows} live flows`, onOutcome);
    }
    const refusal = this.admit(request, band, flow);
    if (refusal !== undefined) {
      this.bands.maybeIdle(flow);
      return this.refuse(request, 'capacity', refusal, onOutcome);
    }
    const item = new QueueItem(request, this.seq++, now, expiresAt, flow, options, onOutcome);
    this.insert(item, ttl);
    if (this.observing) this.observer.onQueued?.(request.priority, request.fairnessId);
    this.kick();
  }

  /**
   * Applies new limits, TTLs, band settings, tenant weights and policies without touching what is queued: no
   * request is dropped, moved or re-ordered. Lower limits refuse (or make fair-share room for) new arrivals only;
   * TTL changes apply to requests admitted from now on; a tenant's new weight applies to its future charges.
   * Validates first: on an invalid option it throws and nothing changes. O(bands + flows).
   */
  reconfigure(options: LiveFlowControlOptions): ReconfigureReport {
    const resolved = resolveOptions({
      ...options,
      saturation: this.saturation,
      // The outbox was sized with the original budget; the budget is not a live setting.
      maxDispatchesPerCycle: this.options.maxDispatchesPerCycle,
    });
    if (this.closed) return { kept: [] };
    const kept = this.bands.reconfigure(resolved);
    this.options = resolved;
    this.evictions.reconfigure(resolved.inflightEviction);
    this.ledger.setLimits(resolved.limits);
    this.reviewParked();
    // Raised limits or ceilings may let waiting work go now.
    this.kick();
    return { kept };
  }

  /**
   * Whether the pool can take work at all; the caller decides (the server, from endpoint reachability: flow
   * control does no I/O). Holding requests for a pool that cannot serve them only makes every client wait out its
   * TTL, so while `message` is set every queued request leaves at once and every new one is refused, both with
   * reason `unavailable` and `message`. In-flight work is left alone. `undefined` resumes holding and dispatching
   * at once. Saturation ("the pool is busy", "metrics are late") is not this: it holds. O(queued) on a change.
   */
  setUnavailable(message: string | undefined): void {
    if (this.closed || message === this.unavailable) return;
    this.unavailable = message;
    if (message === undefined) return;
    this.outbox.enter();
    try {
      for (const band of this.bands.highestFirst) {
        for (let item = band.arrivals.head; item !== undefined; item = band.arrivals.head) this.evict(item, 'unavailable');
      }
    } finally {
      this.outbox.leave();
    }
  }

  /** Why the pool is marked unavailable, or undefined while it takes work. */
  get unavailableReason(): string | undefined {
    return this.unavailable;
  }

  /** Queue figures for gauges, read at scrape time. O(bands). */
  stats(): FlowControlStats {
    return {
      queuedRequests: this.queued,
      queuedBytes: this.queuedBytes,
      inflight: this.inflight,
      liveFlows: this.bands.liveFlows,
      evictableInflight: this.evictions.size,
      evictionsOutstanding: this.evictions.outstanding,
      heldAtCaps: this.parkedItems,
      bands: this.bands.highestFirst.map((b) => ({
        priority: b.priority,
        name: b.settings.name,
        queuedRequests: b.queuedRequests,
        queuedBytes: b.queuedBytes,
        flows: b.flows.size,
        ceiling: b.ceiling,
        oldestEnqueuedAt: b.oldestEnqueuedAt(),
      })),
    };
  }

  /**
   * The `limit` flows holding the most queued requests across all bands, longest first. For the operator's view,
   * never the request path: O(bands x (limit + longest queue)) on `fair-share` bands, which keep their flows
   * bucketed by length; a `reject` band keeps no such index and is scanned (O(its flows x limit) at worst).
   */
  topQueuedFlows(limit: number): FlowQueueStats[] {
    if (!(limit > 0)) return [];
    const top: Flow[] = [];
    const offer = (flow: Flow): void => {
      const n = flow.queue.size;
      if (n === 0) return;
      if (top.length === limit && n <= (top[limit - 1] as Flow).queue.size) return;
      // `top` stays sorted longest first; limits are small (tens), so insertion beats a heap here.
      let i = top.length < limit ? top.length : limit - 1;
      top[i] = flow;
      while (i > 0 && (top[i - 1] as Flow).queue.size < n) {
        top[i] = top[i - 1] as Flow;
        top[i - 1] = flow;
        i--;
      }
    };
    for (const band of this.bands.highestFirst) {
      if (band.queuedRequests === 0) continue;
      if (band.lengths !== undefined) {
        let seen = 0;
        band.lengths.visitLongestFirst((flow) => {
          offer(flow);
          return ++seen < limit;
        });
      } else {
        for (const flow of band.flows.values()) offer(flow);
      }
    }
    return top.map((f) => ({ fairnessId: f.fairnessId, priority: f.priority, queuedRequests: f.queue.size, inflight: f.leases, weight: f.weight }));
  }

  /** Requests of `fairnessId` queued in any band. O(bands). */
  queuedFor(fairnessId: string): number {
    let n = 0;
    for (const band of this.bands.highestFirst) n += band.flows.get(fairnessId)?.queue.size ?? 0;
    return n;
  }

  /** Stops admitting (new requests are rejected with `shutdown`); resolves when nothing is queued or in flight. */
  drain(): Promise<void> {
    this.draining = true;
    this.drainPromise ??= new Promise<void>((resolve) => {
      this.drainResolve = resolve;
    });
    this.checkDrained();
    return this.drainPromise;
  }

  /** Evicts every queued request with `shutdown`, stops all timers and listeners. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.draining = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.outbox.enter();
    try {
      for (const band of this.bands.highestFirst) {
        for (let item = band.arrivals.head; item !== undefined; item = band.arrivals.head) {
          this.evict(item, 'shutdown');
        }
      }
    } finally {
      this.outbox.leave(true);
    }
    this.closed = true;
    if (this.fallback !== undefined) this.clock.clearTimeout(this.fallback);
    this.fallback = undefined;
    this.expiry.close();
    this.evictions.clear();
    this.bands.clear();
    this.checkDrained();
  }

  /**
   * Checks capacity. A full band may make room by fair-share eviction; on global overflow strictly lower-priority
   * work is displaced. Returns a refusal message, or undefined when the request may be queued.
   */
  private admit(request: FlowRequest, band: Band, flow: Flow): string | undefined {
    const s = band.settings;
    // Every victim is chosen before any is evicted: a request that is refused in the end evicts nobody.
    let fairShare: QueueItem | undefined;
    if (band.queuedRequests + 1 > s.maxRequests || band.queuedBytes + request.byteSize > s.maxBytes) {
      fairShare = this.fairShareVictim(band, flow, request.byteSize);
      if (fairShare === undefined) {
        return `band ${s.name} at capacity: ${band.queuedRequests}/${s.maxRequests} requests, ${band.queuedBytes}/${s.maxBytes} bytes`;
      }
    }
    const freed = fairShare === undefined ? 0 : 1;
    const freedBytes = fairShare?.byteSize ?? 0;
    const needRequests = this.queued - freed + 1 - this.options.maxQueuedRequests;
    const needBytes = this.queuedBytes - freedBytes + request.byteSize - this.options.maxQueuedBytes;
    const displaced = needRequests <= 0 && needBytes <= 0 ? [] : this.displacementVictims(request.priority, needRequests, needBytes);
    if (displaced === undefined) {
      return `flow control at capacity: ${this.queued}/${this.options.maxQueuedRequests} requests, ${this.queuedBytes}/${this.options.maxQueuedBytes} bytes, nothing of lower priority to displace`;
    }
    if (fairShare !== undefined) this.evict(fairShare, 'fair-share');
    for (const victim of displaced) this.evict(victim, 'displaced');
    return undefined;
  }

  /**
   * Under `fair-share` overflow: the newest request of the flow holding the most queue space per unit of weight,
   * if that flow would still hold more than the newcomer's flow after the swap and one eviction makes the
   * newcomer fit. The longest flow is found in O(1) by raw length (an approximation of "most per unit of
   * weight" when weights differ); its newest item in O(1) for FIFO queues.
   */
  private fairShareVictim(band: Band, newcomer: Flow, byteSize: number): QueueItem | undefined {
    const longest = band.lengths?.longest();
    if (longest === undefined || longest === newcomer) return undefined;
    if (longest.queue.size / longest.weight <= (newcomer.queue.size + 1) / newcomer.weight) return undefined;
    const victim = longest.queue.newest();
    if (victim === undefined) return undefined;
    const s = band.settings;
    const fits =
      band.queuedRequests <= s.maxRequests && band.queuedBytes - victim.byteSize + byteSize <= s.maxBytes;
    return fits ? victim : undefined;
  }

  /** Lowest band first, newest first within a band, strictly below `priority`; undefined if not enough. */
  private displacementVictims(priority: number, needRequests: number, needBytes: number): QueueItem[] | undefined {
    const victims: QueueItem[] = [];
    let freedRequests = 0;
    let freedBytes = 0;
    const bands = this.bands.highestFirst;
    for (let b = bands.length - 1; b >= 0; b--) {
      const band = bands[b] as Band;
      if (band.priority >= priority) break;
      for (let item = band.arrivals.tail; item !== undefined; item = band.arrivals.before(item)) {
        if (freedRequests >= needRequests && freedBytes >= needBytes) return victims;
        victims.push(item);
        freedRequests++;
        freedBytes += item.byteSize;
      }
    }
    return freedRequests >= needRequests && freedBytes >= needBytes ? victims : undefined;
  }

  /** Queues `item`, whose effective TTL is `ttl` (its expiry lane). */
  private insert(item: QueueItem, ttl: number): void {
    const flow = item.flow;
    const band = flow.band;
    const wasEmpty = flow.queue.size === 0;
    flow.queue.push(item);
    if (this.ledger.tracking) {
      this.ledger.enqueued(flow.fairnessId);
      if (!flow.parked && this.ledger.isParked(flow.fairnessId)) flow.parked = true;
    }
    if (flow.parked) {
      band.parkedRequests++;
      this.parkedItems++;
    } else if (wasEmpty) band.fairness.activate(flow);
    else if (flow.queue.peek() === item) band.fairness.headChanged(flow);
    band.lengths?.grew(flow);
    band.arrivals.push(item);
    if (wasEmpty) markActivity(flow);
    const bytes = item.byteSize;
    band.queuedBytes += bytes;
    this.queued++;
    this.queuedBytes += bytes;
    this.expiry.add(item, ttl);
    const signal = item.options.signal;
    if (signal !== undefined) {
      item.abortListener = () => this.evictNow(item, 'cancelled');
      signal.addEventListener('abort', item.abortListener, { once: true });
    }
  }

  /** Takes `item` out of every index; O(1) or O(log n) each. */
  private detach(item: QueueItem): void {
    item.settled = true;
    const flow = item.flow;
    const band = flow.band;
    const wasHead = flow.queue.peek() === item;
    flow.queue.remove(item);
    if (this.ledger.tracking) this.ledger.dequeued(flow.fairnessId);
    if (flow.parked) {
      band.parkedRequests--;
      this.parkedItems--;
    } else if (flow.queue.size === 0) band.fairness.deactivate(flow);
    else if (wasHead) band.fairness.headChanged(flow);
    band.lengths?.shrank(flow);
    band.arrivals.remove(item);
    markActivity(flow);
    const bytes = item.byteSize;
    band.queuedBytes -= bytes;
    this.queued--;
    this.queuedBytes -= bytes;
    this.expiry.remove(item);
    if (item.abortListener !== undefined) {
      item.options.signal?.removeEventListener('abort', item.abortListener);
      item.abortListener = undefined;
    }
  }

  /** An eviction as an operation of its own (a timer, an abort signal): delivered once complete. */
  private evictNow(item: QueueItem, reason: EvictReason): void {
    this.outbox.enter();
    try {
      this.evict(item, reason);
    } finally {
      this.outbox.leave();
    }
  }

  private evict(item: QueueItem, reason: EvictReason): void {
    if (item.settled) return;
    this.detach(item);
    this.bands.maybeIdle(item.flow);
    const waitMs = this.clock.now() - item.enqueuedAt;
    const message = reason === 'unavailable' ? `${this.unavailable ?? 'the pool cannot take work'} (${whereOf(item)})` : evictionMessage(reason, item);
    this.outbox.post(item.onOutcome, { kind: 'evicted', reason, message, waitMs }, item.request);
    if (this.observing) this.observer.onOutcome({ kind: 'evicted', reason, priority: item.flow.priority, fairnessId: item.flow.fairnessId, waitMs });
    // Removing the head of a blocked band can unblock the bands below it under some usage limits.
    this.kick();
    this.checkDrained();
  }

  private dispatch(
    lease: Lease & LeaseAccount,
    request: FlowRequest,
    options: EnqueueOptions,
    waitMs: number,
    onOutcome: OutcomeCallback,
  ): void {
    // Posted before the hook runs, so an enqueue from inside the hook is delivered after this one.
    this.outbox.post(onOutcome, { kind: 'dispatched', lease, waitMs }, request);
    const flow = lease.flow;
    this.inflight++;
    lease.band.leases++;
    if (this.ledger.tracking) this.ledger.dispatched(lease.fairnessId);
    if (flow !== undefined) {
      flow.leases++;
      markActivity(flow);
      flow.band.fairness.charge(flow, lease.estimatedCost);
    }
    this.options.arbitration.dispatched(lease.band);
    if (this.saturation.pacedSaturation !== undefined) lease.pacePrefill = sharedByTenants(lease.band, lease.fairnessId, flow !== undefined);
    const target = options.evictionTarget;
    if (target !== undefined && this.evictions.covers(lease.priority)) {
      lease.evictionEntry = this.evictions.track(target, lease.priority, lease.fairnessId, lease.estimatedCost, lease.dispatchedAt);
    }
    if (this.evictingFor !== undefined && lease.priority >= this.evictingFor) this.evictions.madeProgress();
    if (options.onDispatch !== undefined) {
      try {
        options.onDispatch(lease);
      } catch (err) {
        this.logger.error({ err, requestId: request.id }, 'onDispatch hook threw; ignored');
      }
    }
    if (this.observing) this.observer.onOutcome({ kind: 'dispatched', reason: undefined, priority: lease.priority, fairnessId: lease.fairnessId, waitMs });
  }

  private release(lease: LeaseAccount, actual: ActualCost | undefined): void {
    const flow = lease.flow;
    this.inflight--;
    lease.band.leases--;
    if (this.ledger.tracking) {
      this.ledger.released(lease.fairnessId);
      if (this.ledger.isParked(lease.fairnessId) && this.ledger.tenantOpen(lease.fairnessId)) this.unpark(lease.fairnessId);
    }
    const entry = lease.evictionEntry;
    if (entry !== undefined) {
      lease.evictionEntry = undefined;
      if (entry.outstanding) this.evictions.landed(this.clock.now());
      this.evictions.untrack(entry);
    }
    const total = actualTotal(actual);
    if (flow === undefined) {
      this.bands.flowlessLeaseEnded(lease.band, lease.fairnessId);
    } else {
      flow.leases--;
      if (!flow.collected) {
        markActivity(flow);
        if (total !== undefined) flow.band.fairness.correct(flow, total - lease.estimatedCost);
        this.bands.maybeIdle(flow);
      }
    }
    if (this.observing) this.observer.onRelease(lease.priority, lease.fairnessId, lease.estimatedCost, total);
    this.kick();
    this.checkDrained();
  }

  private refuse(request: FlowRequest, reason: RejectReason, message: string, onOutcome: OutcomeCallback): void {
    if (this.observing) this.observer.onOutcome({ kind: 'rejected', reason, priority: request.priority, fairnessId: request.fairnessId, waitMs: 0 });
    this.outbox.post(onOutcome, { kind: 'rejected', reason, message }, request);
  }

  private settleEarly(request: FlowRequest, reason: EvictReason, message: string, onOutcome: OutcomeCallback): void {
    if (this.observing) this.observer.onOutcome({ kind: 'evicted', reason, priority: request.priority, fairnessId: request.fairnessId, waitMs: 0 });
    this.outbox.post(onOutcome, { kind: 'evicted', reason, message, waitMs: 0 }, request);
  }

  /** Asks for a dispatch cycle soon (a microtask), coalescing the many triggers of one tick into one cycle. */
  private kick(): void {
    // While a yield is pending the continuation runs the next cycle: a microtask now would not let I/O in.
    if (this.cycleScheduled || this.continuationPending || this.closed || this.queued === this.parkedItems) return;
    this.cycleScheduled = true;
    queueMicrotask(() => this.runCycle());
  }

  /**
   * Dispatches as many requests as the gate allows. Dispatches are counted across cycles, not per cycle: cycles
   * chained by microtasks (a callback that releases and enqueues again) never let I/O in, so past
   * `maxDispatchesPerCycle` since the last yield the engine yields to the event loop, whatever started the cycle.
   */
  private runCycle(): void {
    this.cycleScheduled = false;
    if (this.inCycle || this.closed) return;
    this.inCycle = true;
    this.outbox.enter();
    const started = this.observing ? this.clock.now() : 0;
    let dispatched = 0;
    try {
      while (this.queued > this.parkedItems) {
        if (this.sinceYield >= this.options.maxDispatchesPerCycle) {
          this.yieldTurn();
          break;
        }
        // At the cap over all tenants: a release, or a larger budget, starts the next cycle.
        if (this.ledger.tracking && !this.ledger.globalOpen()) break;
        const now = this.clock.now();
        const saturation = this.saturation.saturation();
        const band = this.options.arbitration.pick(this.bands.highestFirst, saturation, now);
        if (band === undefined) {
          this.maybeEvictInflight(saturation, now);
          this.armFallback();
          break;
        }
        let picked = band.fairness.pick();
        // Near the ceiling, or while every endpoint has prompts queued up to the paced bound, a tenant above its
        // share leaves the room to the next tenant in line.
        if (picked !== undefined && this.heldByReserve(band, picked, saturation)) {
          const other = band.fairness.runnerUp?.();
          if (other === undefined || this.heldByReserve(band, other, saturation)) {
            this.armFallback();
            break;
          }
          picked = other;
        }
        const item = picked?.queue.peek();
        if (item === undefined || picked === undefined) {
          // A band sharing fairness with other replicas holds while the pool's capacity is owed to a tenant queued
          // elsewhere: like a closed gate (the head-of-line rule), it waits for the next sync or the fallback timer.
          if (band.fairness.holding?.() === true) this.armFallback();
          else this.logger.error({ priority: band.priority }, 'band has queued requests but no active flow; skipping cycle');
          break;
        }
        if (now >= item.expiresAt) {
          this.evict(item, 'ttl');
          continue;
        }
        if (this.ledger.tracking && !this.ledger.tenantOpen(picked.fairnessId)) {
          this.park(picked.fairnessId);
          continue;
        }
        this.detach(item);
        this.dispatch(item.lease(now, this.releaser), item.request, item.options, now - item.enqueuedAt, item.onOutcome);
        dispatched++;
        this.sinceYield++;
      }
    } finally {
      this.inCycle = false;
      this.outbox.leave();
    }
    if (this.observing) this.observer.onDispatchCycle(this.clock.now() - started, dispatched);
    this.checkDrained();
  }

  /**
   * Whether `flow`, picked next in `band`, must leave the room to others: it holds more than its weighted share of
   * the band's in-flight requests while another tenant of the band has work, and either the pool is inside the
   * tenant reserve (the last `tenantReserve` below the band's ceiling) or prefill pacing is at the ceiling
   * (`pacedSaturation`: every endpoint with room already has half a step of prompts it has not started). It
   * holds work back only where completions, or first tokens, soon bring the pool back (the reserve may stay empty
   * while the light tenant has nothing queued: that is its cost, at most `tenantReserve` of the pool; pacing
   * costs the heavy tenant the prompts it could have queued in the servers, which would only have delayed the
   * others' first tokens); a tenant alone in its band is never held. A tenant with fast-path leases and a flow
   * counts its weight twice, which only makes the others' shares smaller. O(1).
   */
  private heldByReserve(band: Band, flow: Flow, saturation: number): boolean {
    const reserve = this.options.tenantReserve;
    const inReserve = reserve > 0 && saturation >= band.ceiling - reserve;
    if (!inReserve && (this.saturation.pacedSaturation?.() ?? 0) < band.ceiling) return false;
    if (!sharedByTenants(band, flow.fairnessId, true)) return false;
    const own = band.flowlessByTenant.get(flow.fairnessId) ?? 0;
    return (flow.leases + own) * (band.activeWeight + band.flowlessWeight) > band.leases * flow.activeWeight;
  }

  /**
   * The gate is closed. If the highest band with queued work is blocked by saturation and lower-priority work is
   * running that may be taken back, evict victims by the rule (inflight-eviction.ts), one per blocked request
   * not already covered by an eviction on its way, within the rate limit. An eviction frees the victim's
   * capacity when its lease is released, which re-runs the gate; victims are picked only strictly below the
   * blocked band and below the evictable bound, so nothing of equal or higher priority is ever evicted.
   */
  private maybeEvictInflight(saturation: number, now: number): void {
    const ev = this.evictions;
    if (ev.size === 0) return;
    let demand: Band | undefined;
    for (const band of this.bands.highestFirst) {
      if (band.readyRequests === 0) continue;
      if (saturation >= band.ceiling) demand = band;
      break;
    }
    if (demand === undefined) return;
    const limit = Math.min(demand.priority, ev.options.belowPriority);
    // Evictions of this round count as covering demand even when their request lets go at once (inside the
    // target): the blocked requests dispatch in the cycle that the release starts, not in this one.
    let covered = ev.outstanding;
    while (covered < demand.readyRequests) {
      const victim = ev.peekVictim(limit);
      if (victim === undefined || !ev.tryTake(now)) return;
      if (this.evictInflight(victim, demand.priority, now)) covered++;
    }
  }

  /** Offers `victim` to its front end; true when it accepted. */
  private evictInflight(victim: EvictionEntry, forPriority: number, now: number): boolean {
    const ev = this.evictions;
    const eviction: InflightEviction = {
      reason: 'preempted',
      forPriority,
      message: `request evicted in flight to make room for priority ${forPriority} work (priority ${victim.priority}, fairness id ${JSON.stringify(victim.fairnessId)})`,
    };
    // Counted as outstanding before the target runs: it may release the lease synchronously.
    ev.beginAttempt(victim);
    let accepted = false;
    try {
      accepted = victim.target.evict(eviction) === true;
    } catch (err) {
      this.logger.error({ err, priority: victim.priority }, 'eviction target threw; treated as declined');
    }
    if (accepted) {
      this.evictingFor = forPriority;
    } else {
      ev.abandonAttempt(victim);
      ev.refund();
    }
    if (this.observing) {
      this.observer.onInflightEviction?.({
        outcome: accepted ? 'evicted' : 'declined',
        reason: eviction.reason,
        priority: victim.priority,
        fairnessId: victim.fairnessId,
        forPriority,
        progress: victim.progress,
        ranMs: now - victim.dispatchedAt,
      });
    }
    return accepted;
  }

  /**
   * Holds `tenant` at its concurrency cap: its flows leave their bands' fairness states (so the band picks other
   * tenants) and its queued requests stop counting as ready, until `unpark`. O(bands).
   */
  private park(tenant: string): void {
    this.ledger.setParked(tenant, true);
    for (const band of this.bands.highestFirst) {
      const flow = band.flows.get(tenant);
      if (flow === undefined || flow.parked) continue;
      flow.parked = true;
      const n = flow.queue.size;
      if (n === 0) continue;
      band.fairness.deactivate(flow);
      band.parkedRequests += n;
      this.parkedItems += n;
    }
  }

  /** Lets `tenant`'s queued requests compete again (a request of it ended, or the cap or budget grew). O(bands). */
  private unpark(tenant: string): void {
    this.ledger.setParked(tenant, false);
    for (const band of this.bands.highestFirst) {
      const flow = band.flows.get(tenant);
      if (flow === undefined || !flow.parked) continue;
      flow.parked = false;
      const n = flow.queue.size;
      if (n === 0) continue;
      band.parkedRequests -= n;
      this.parkedItems -= n;
      band.fairness.activate(flow);
    }
    this.kick();
  }

  /** Releases every held tenant that its cap (as the budget now allows it) lets go again. */
  private reviewParked(): void {
    for (const tenant of this.ledger.parkedTenants()) if (this.ledger.tenantOpen(tenant)) this.unpark(tenant);
  }

  /** The budget of some cap grew (shared state): held tenants and the cap over all tenants may let work go. */
  private budgetChanged(): void {
    if (this.closed) return;
    this.outbox.enter();
    try {
      this.reviewParked();
    } finally {
      this.outbox.leave();
    }
    this.kick();
  }

  /** Lets sockets and timers have their turn under a heavy backlog; the dispatching continues on the next turn. */
  private yieldTurn(): void {
    if (this.continuationPending) return;
    this.continuationPending = true;
    this.clock.defer(() => {
      this.continuationPending = false;
      this.sinceYield = 0;
      this.kick();
    });
  }

  private armFallback(): void {
    this.fallback ??= this.clock.setTimeout(() => {
      this.fallback = undefined;
      this.kick();
    }, this.options.fallbackIntervalMs);
  }

  /** Resolves `drain()` once nothing is queued, in flight, or waiting in the outbox for its caller. */
  private checkDrained(): void {
    if (this.drainResolve !== undefined && this.queued === 0 && this.inflight === 0 && this.outbox.pending === 0) {
      const resolve = this.drainResolve;
      this.drainResolve = undefined;
      resolve();
    }
  }
}

/**
 * Keeps the band's `activeWeight` (sum of the weights of its flows with work queued or in flight) in step with
 * `flow` after its queue or lease count changed. O(1). A weight changed by reconfiguration counts from the
 * flow's next idle-to-active transition.
 */
function markActivity(flow: Flow): void {
  const active = flow.queue.size > 0 || flow.leases > 0;
  if (active === flow.activeWeight > 0) return;
  const w = active ? flow.weight : 0;
  flow.band.activeFlows += active ? 1 : -1;
  flow.band.activeWeight += w - flow.activeWeight;
  flow.activeWeight = w;
}

function whereOf(item: QueueItem): string {
  return `priority ${item.flow.priority}, fairness id ${JSON.stringify(item.flow.fairnessId)}`;
}

function evictionMessage(reason: Exclude<EvictReason, 'unavailable'>, item: QueueItem): string {
  const where = whereOf(item);
  switch (reason) {
    case 'ttl':
      return `request expired in queue (${where})`;
    case 'cancelled':
      return `request cancelled while queued (${where})`;
    case 'displaced':
      return `request displaced by higher-priority work (${where})`;
    case 'fair-share':
      return `request evicted from a full band to make room for a tenant below its fair share (${where})`;
    case 'shutdown':
      return `flow control shut down while the request was queued (${where})`;
  }
}

/**
 * Whether another tenant than `fairnessId` has work in `band` (queued or in flight): another active flow, or
 * fast-path leases of another tenant. `ownFlow`: the tenant's flow is among the active ones (a picked flow). For a
 * fast-path lease the active flows may include the tenant's own (not looked up): there the answer only turns
 * prefill pacing's routing preference on. O(1).
 */
function sharedByTenants(band: Band, fairnessId: string, ownFlow: boolean): boolean {
  const fastPath = band.flowlessByTenant;
  const otherFastPath = fastPath.size - (fastPath.has(fairnessId) ? 1 : 0);
  return otherFastPath + band.activeFlows - (ownFlow ? 1 : 0) > 0;
}
