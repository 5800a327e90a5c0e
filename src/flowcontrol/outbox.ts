// Outcomes on their way to callers. The controller never calls a caller back in the middle of changing its
// queues: it posts the outcome here, and the outbox delivers once the outermost engine operation (an enqueue, a
// dispatch cycle, an eviction, close) is complete, in the order posted. A callback that enqueues again only
// posts more, which the running delivery loop delivers after it returns (a trampoline): chains of requests
// never grow the stack, and past a cycle's worth of deliveries the rest waits for the next event-loop turn, so
// such a chain cannot starve I/O either.
import { type Clock, type Logger } from '../core/index.js';
import { type FlowRequest, type Outcome, type OutcomeCallback } from './types.js';

/** Complexity: post and deliver O(1) each; parallel lists reused, so no object per outcome beyond the outcome. */
export class Outbox {
  private readonly callbacks: OutcomeCallback[] = [];
  private readonly outcomes: Outcome[] = [];
  /** Kept for the error log only: the request object is not read on the way. */
  private readonly requests: FlowRequest[] = [];
  private head = 0;
  /** Engine operations in progress (they nest when a hook re-enters): delivery waits until none is. */
  private busy = 0;
  private delivering = false;
  private deferred = false;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Deliveries per event-loop turn before the rest is deferred to the next. */
    private readonly budget: number,
  ) {}

  get pending(): number {
    return this.callbacks.length - this.head;
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

  /** Ends an engine operation; the outermost one delivers what was posted. */
  leave(): void {
    if (--this.busy === 0 && this.head < this.callbacks.length && !this.delivering && !this.deferred) this.deliver();
  }

  private deliver(): void {
    this.delivering = true;
    try {
      for (let left = this.budget; this.head < this.callbacks.length; left--) {
        if (left === 0) {
          this.deferred = true;
          this.clock.defer(() => {
            this.deferred = false;
            if (this.busy === 0 && !this.delivering) this.deliver();
          });
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
      this.head = 0;
      this.callbacks.length = 0;
      this.outcomes.length = 0;
      this.requests.length = 0;
    } finally {
      this.delivering = false;
    }
  }
}
