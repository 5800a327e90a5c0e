// The flow controller's vocabulary: what callers submit, and the outcomes they get back as values.

/** One request as flow control sees it. Validated on entry; see `validateFlowRequest`. */
export interface FlowRequest {
  /** Caller's id, for logs and tracing only. */
  readonly id: string;
  /** Tenant: the fairness id. Flows are keyed by (fairnessId, priority). */
  readonly fairnessId: string;
  /** Integer; higher is more important; negative is sheddable. */
  readonly priority: number;
  /** Bytes the request holds while queued (counted against byte capacity). */
  readonly byteSize: number;
  /** Estimated cost in tokens (prompt + expected output); fairness charges it at dispatch. */
  readonly estimatedCost: number;
  /** Per-request time-to-live in ms; the smallest of default, band and request TTL wins. */
  readonly ttlMs?: number;
  /** Absolute clock time (ms) after which the request must not be dispatched. */
  readonly deadlineAt?: number;
  /** Time-to-first-token objective in ms; orders the `slo-deadline` policy. */
  readonly ttftSloMs?: number;
  /** Clock time (ms) the request arrived at the gateway; defaults to the time of enqueue. */
  readonly arrivedAt?: number;
}

/** Actual usage reported when a dispatched request finishes; corrects the fairness charge. */
export interface ActualCost {
  readonly promptTokens: number;
  readonly outputTokens: number;
}

/** Held by a dispatched request until its response ends. */
export interface Lease {
  readonly priority: number;
  readonly fairnessId: string;
  readonly dispatchedAt: number;
  /**
   * Whether flow control may take the request back while it runs (in-flight eviction): it was dispatched with an
   * eviction target, its priority is below the evictable bound, and it has not yet been released or chosen.
   */
  readonly evictable: boolean;
  /**
   * Prefill pacing is in force for this request: its band had work of more than one tenant at dispatch and the
   * saturation source paces prefill. Where to start it should then prefer an endpoint below the paced bound
   * (the scheduler's headroom filter does), so that its own prompt, and the other tenants' next
   * ones, are not queued behind a backlog. Absent reads as false.
   */
  readonly pacePrefill?: boolean;
  /**
   * Output tokens the request has produced so far, as the front end sees them (streamed chunks). Feeds the victim
   * rule (least progress goes first); a no-op unless the lease is evictable. O(log n).
   */
  reportProgress(outputTokens: number): void;
  /** Ends the lease; idempotent. `actual` replaces the estimate in fairness accounting. */
  release(actual?: ActualCost): void;
}

/** Why flow control took back a request it had dispatched. */
export type InflightEvictReason = 'preempted';

/** What the front end is told when its request is chosen as an in-flight eviction victim. */
export interface InflightEviction {
  /** `preempted`: higher-priority work was blocked by saturation and this request's capacity goes to it. */
  readonly reason: InflightEvictReason;
  /** Priority of the blocked band the eviction makes room for. */
  readonly forPriority: number;
  readonly message: string;
}

/**
 * The port through which flow control takes a dispatched request back; the request's front end implements it
 * (abort the model-server request, answer the client). Flow control owns the decision and does no I/O itself.
 */
export interface EvictionTarget {
  /**
   * The request was chosen as a victim. Return true when the eviction is carried out (or certainly will be: the
   * client will be told its request was evicted and the lease will be released), false when
   * the request can no longer be taken back (its response completed, or it started and started responses are
   * spared); false changes nothing. Called at most once per request, synchronously inside a dispatch cycle: do the
   * I/O later (a microtask), never throw.
   */
  evict(eviction: InflightEviction): boolean;
}

/** `unavailable`: the pool can take no work at all (see `FlowController.setUnavailable`). */
export type RejectReason = 'capacity' | 'flow-limit' | 'shutdown' | 'unavailable';
export type EvictReason = 'ttl' | 'cancelled' | 'displaced' | 'fair-share' | 'shutdown' | 'unavailable';

export interface DispatchedOutcome {
  readonly kind: 'dispatched';
  readonly lease: Lease;
  /** Time spent queued, ms. */
  readonly waitMs: number;
}

export interface RejectedOutcome {
  readonly kind: 'rejected';
  readonly reason: RejectReason;
  readonly message: string;
}

export interface EvictedOutcome {
  readonly kind: 'evicted';
  readonly reason: EvictReason;
  readonly message: string;
  readonly waitMs: number;
}

/** Exactly one per request. `kind` and `reason` are the metric labels. */
export type Outcome = DispatchedOutcome | RejectedOutcome | EvictedOutcome;

/** Receives a request's one outcome (the callback form of `enqueueAndWait`). */
export type OutcomeCallback = (outcome: Outcome) => void;

export interface EnqueueOptions {
  /** Cancellation (client gone): the request leaves its queue at once with evicted/cancelled. */
  readonly signal?: AbortSignal;
  /**
   * Called synchronously at the moment of dispatch, before the controller asks the saturation source again.
   * Work started here (picking an endpoint, counting it in flight) is therefore visible to the very next gate
   * check of the same dispatch cycle. Must not throw; an exception is logged and ignored.
   */
  readonly onDispatch?: (lease: Lease) => void;
  /**
   * Makes the request evictable in flight once dispatched, if its priority is below the evictable bound (see
   * `FlowControllerOptions.inflightEviction`). Without a target a dispatched request is never taken back.
   */
  readonly evictionTarget?: EvictionTarget;
}
