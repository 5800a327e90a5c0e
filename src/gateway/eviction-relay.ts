// Bridges flow control's eviction decision (an EvictionTarget) to the front end that carries it out (an
// EvictionChannel listener). The decision can land before the front end is ready: it is then held and carried
// out the moment the front end listens, or the pipeline answers 429 itself if it has not routed yet.
import { type EvictionTarget, type InflightEviction } from '../flowcontrol/index.js';
import { type EvictionChannel, type RejectDecision } from './contract.js';
import { type RetryAdvice, evictedInFlight } from './outcome-response.js';

/**
 * What an in-flight eviction does to a response that has already started (a byte went to the client), in either
 * front end:
 * - `end` (default): end it. The proxy sends an OpenAI-style error event (`data: {"error":{..., "code":
 *   "evicted"}}`, then `data: [DONE]`) on an SSE stream and cuts any other body; ext_proc sends its immediate
 *   response, which Envoy, once response headers have gone downstream, can only turn into a stream reset.
 *   Sheddable work gives way whatever its client's streaming mode (which is what marking it sheddable asks
 *   for), and the victim rule takes started streams last, so little finished work is thrown away.
 * - `spare`: leave started responses alone; only requests that have sent nothing yet are evicted.
 */
export type StartedResponseEviction = 'end' | 'spare';

export const DEFAULT_STARTED_RESPONSE_EVICTION: StartedResponseEviction = 'end';

type State = 'waiting' | 'pending' | 'listening' | 'done';

export class EvictionRelay implements EvictionTarget, EvictionChannel {
  private state: State = 'waiting';
  private handler: ((rejection: RejectDecision) => boolean) | undefined;
  private rejection: RejectDecision | undefined;

  constructor(private readonly retry: RetryAdvice) {}

  /** Flow control chose the request before the front end listened (the pipeline then answers 429 itself). */
  get pending(): boolean {
    return this.state === 'pending';
  }

  /** The eviction was carried out (or is held for the front end). */
  get evicted(): boolean {
    return this.rejection !== undefined && this.state !== 'waiting';
  }

  /** The answer the client gets for the eviction, once decided. */
  get answer(): RejectDecision | undefined {
    return this.rejection;
  }

  evict(eviction: InflightEviction): boolean {
    switch (this.state) {
      case 'done':
        return false;
      case 'pending':
        return true;
      case 'waiting':
        this.rejection = evictedInFlight(eviction.message, this.retry);
        this.state = 'pending';
        return true;
      case 'listening': {
        const rejection = evictedInFlight(eviction.message, this.retry);
        const accepted = this.handler?.(rejection) === true;
        if (accepted) {
          this.rejection = rejection;
          this.state = 'done';
        }
        return accepted;
      }
    }
  }

  listen(handler: (rejection: RejectDecision) => boolean): void {
    if (this.state === 'done' || this.state === 'listening') return;
    if (this.state === 'pending' && this.rejection !== undefined) {
      // Nothing has been sent yet, so the front end carries it out. (Were it to decline, the request would simply
      // run on and release its lease when done.)
      this.state = 'done';
      handler(this.rejection);
      return;
    }
    this.handler = handler;
    this.state = 'listening';
  }

  /** The request is over (answered, or its response ended): nothing to take back any more. */
  close(): void {
    this.state = 'done';
    this.handler = undefined;
  }
}
