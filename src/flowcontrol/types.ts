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
  /** Ends the lease; idempotent. `actual` replaces the estimate in fairness accounting. */
  release(actual?: ActualCost): void;
}

export type RejectReason = 'capacity' | 'flow-limit' | 'shutdown';
export type EvictReason = 'ttl' | 'cancelled' | 'displaced' | 'fair-share' | 'shutdown';

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
}
