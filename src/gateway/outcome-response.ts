// Turns flow-control and scheduling outcomes into the HTTP answer the client gets, per the status doctrine:
// 400 bad request, 429 capacity exists but is contended, 503 no serving capacity.
import { type Outcome } from '../flowcontrol/index.js';
import { type RejectDecision } from './contract.js';

export interface RetryAdvice {
  /** Retry-After on 429 responses, seconds. @default 1 */
  readonly contendedSeconds: number;
  /** Retry-After on 503 responses, seconds. @default 5 */
  readonly unavailableSeconds: number;
}

export const DEFAULT_RETRY_ADVICE: RetryAdvice = { contendedSeconds: 1, unavailableSeconds: 5 };

export function badRequest(message: string): RejectDecision {
  return { kind: 'reject', status: 400, reason: 'bad-request', message };
}

/** A control header is present but malformed; `message` names it and what it accepts. */
export function badHeader(message: string): RejectDecision {
  return { kind: 'reject', status: 400, reason: 'bad-header', message };
}

/** Drop reason of a request for a model no endpoint of the pool serves (OpenAI's `model_not_found`, 404). */
export const MODEL_NOT_FOUND = 'model-not-found';
/** Drop reason of a request for a model whose every serving endpoint is down while others answer (503). */
export const MODEL_UNAVAILABLE = 'model-unavailable';

export function modelNotFound(message: string): RejectDecision {
  return { kind: 'reject', status: 404, reason: MODEL_NOT_FOUND, message };
}

/** The answer when the scheduler could not place a request: 404 for a model nobody serves, else 503. */
export function unschedulable(reason: string, message: string, advice: RetryAdvice): RejectDecision {
  return reason === MODEL_NOT_FOUND ? modelNotFound(message) : unavailable(reason, message, advice);
}

export function unavailable(reason: string, message: string, advice: RetryAdvice): RejectDecision {
  return { kind: 'reject', status: 503, reason, message, retryAfterSeconds: advice.unavailableSeconds };
}

export function contended(reason: string, message: string, advice: RetryAdvice): RejectDecision {
  return { kind: 'reject', status: 429, reason, message, retryAfterSeconds: advice.contendedSeconds };
}

/** A routed request flow control took back to make room for higher-priority work. */
export function evictedInFlight(message: string, advice: RetryAdvice): RejectDecision {
  return contended('evicted', message, advice);
}

/**
 * Drop reason while no endpoint of the pool has answered for `pool.unreachableAfterMs` (connections refused) or
 * `pool.unresponsiveAfterMs` (connections accepted, not a byte of a metrics page back in time: frozen pods): flow control stops
 * holding requests for it (`unavailable`) and they are answered 503 at once instead of waiting out their TTL.
 */
export const POOL_UNREACHABLE = 'pool-unreachable';

/** The answer for a flow-control outcome other than dispatched. */
export function rejectionFor(
  outcome: Exclude<Outcome, { kind: 'dispatched' }>,
  poolHasEndpoints: boolean,
  advice: RetryAdvice,
): RejectDecision {
  if (outcome.reason === 'unavailable') return unavailable(POOL_UNREACHABLE, outcome.message, advice);
  if (outcome.kind === 'rejected') {
    return outcome.reason === 'shutdown'
      ? unavailable('shutdown', outcome.message, advice)
      : contended(outcome.reason, outcome.message, advice);
  }
  switch (outcome.reason) {
    case 'ttl':
      // Expired with endpoints present: they were busy (contended). With none: no capacity at all.
      return poolHasEndpoints ? contended('ttl', outcome.message, advice) : unavailable('ttl', outcome.message, advice);
    case 'shutdown':
      return unavailable('shutdown', outcome.message, advice);
    case 'displaced':
      return contended('displaced', outcome.message, advice);
    case 'fair-share':
      return contended('fair-share', outcome.message, advice);
    case 'cancelled':
      // Nobody is listening any more; 499 is the de-facto "client closed request" code for logs and metrics.
      return { kind: 'reject', status: 499, reason: 'cancelled', message: outcome.message };
  }
}
