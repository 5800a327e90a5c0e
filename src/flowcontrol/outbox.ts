// Outcomes on their way to callers. The controller never calls a caller back in the middle of changing its
// queues: it posts the outcome here, and the outbox delivers once the outermost engine operation (an enqueue, a
// dispatch cycle, an eviction, close) is complete, in the order posted. A callback that enqueues again only
// posts more, which the running delivery loop delivers after it returns (a trampoline): chains of requests
// never grow the stack, and past a cycle's worth of deliveries the rest waits for the next event-loop turn, so
// such a chain cannot starve I/O either.
import { type Clock, type Logger } from '../core/index.js';
import { type FlowRequest, type Outcome, type OutcomeCallback } from './types.js';

/**
 * Complexity: post O(1), delivery O(1) each plus one O(pending) compaction per delivery run; parallel lists, so
 * no object per outcome beyond the outcome itself.
 */
export class Outbox {
  private callbacks: OutcomeCallback[] = [];
  private outcomes: Outcome[] = [];
  /** Kept for the error log only: the request object is not read on the way. */
  private requests: FlowRequest[] = [];
  private head = 0;
  /** Engine operations in progress (they nest when a hook re-enters): delivery waits until none is. */
  private busy = 0;
  private delivering = false;
  private deferred = false;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Deliveries per delivery run before the rest is deferred to the next event-loop turn. */
    private readonly budget: number,
    /** Called whenever a delivery run has delivered everything posted. */
    private readonly onEmpty: () => void,
  ) {}

  /** Outcomes posted and not yet delivered. */
  get pending(): number {
    return this.callbacks.length - this.head;
  }

  /** Entries held, delivered or not: at most what is pending plus one delivery run's worth. */
  get held(): number {
    return this.callbacks.length;
  }

  /** Inside an engine operation that another one started (a hook that re-entered the engine). */
  get nested(): boolean {
    return this.busy > 1;
  }

  post(onOutcome: OutcomeCallback, outcome: Outcome, request: FlowRequest): void {
    this.callbacks.push(onOutcome);
    this.outcomes.push(outcome);
    this.requests.push(request);
  }

  /** Starts an engine operation. Pair with `leave` in a finally block. */
  enter(): void {
    this.busy++;
  }

  /**
   * Ends an engine operation; the outermost one delivers what was posted, up to the budget, or with `all` (close)
   * everything posted so far, even past a deferral: what the callbacks post meanwhile still goes by the budget.
   */
  leave(all = false): void {
    if (--this.busy !== 0 || this.delivering || this.pending === 0 || (this.deferred && !all)) return;
    this.deliver(all ? Math.max(this.budget, this.pending) : this.budget);
  }

  private deliver(budget: number): void {
    this.delivering = true;
    try {
      for (let left = budget; this.head < this.callbacks.length; left--) {
        if (left <= 0) {
          this.deferRest();
          return;
        }
        const i = this.head++;
        const outcome = this.outcomes[i] as Outcome;
        try {
          (this.callbacks[i] as OutcomeCallback)(outcome);
        } catch (err) {
          // A Promise's resolver never throws; a caller's callback might, and must not break delivery to others.
          this.logger.error({ err, requestId: this.requests[i]?.id, outcome: outcome.kind }, 'outcome callback threw; ignored');
        }
      }
    } finally {
      this.compact();
      this.delivering = false;
    }
    this.onEmpty();
  }

  private deferRest(): void {
    if (this.deferred) return;
    this.deferred = true;
    this.clock.defer(() => {
      this.deferred = false;
      if (this.busy === 0 && !this.delivering && this.pending > 0) this.deliver(this.budget);
    });
  }

  /**
   * Drops what was delivered. Under a chain of callbacks that keeps posting, the lists never run empty, so
   * clearing only when empty would keep every outcome ever delivered: the rest moves to the front instead
   * (O(pending), at most once per delivery run).
   */
  private compact(): void {
    if (this.head === 0) return;
    if (this.head === this.callbacks.length) {
      this.callbacks.length = 0;
      this.outcomes.length = 0;
      this.requests.length = 0;
    } else {
      this.callbacks = this.callbacks.slice(this.head);
      this.outcomes = this.outcomes.slice(this.head);
      this.requests = this.requests.slice(this.head);
    }
    this.head = 0;
  }
}
