// Observability port of the request pipeline, with a no-op default; src/observability implements it.
import { type Logger, type ObserverFaults, type ObserverMethods, fanOutObservers } from '../core/index.js';

export interface RequestLabels {
  /** The model the client asked for. */
  readonly model: string;
  /** The model the request is served as (after a rewrite; else the same as `model`). */
  readonly targetModel: string;
  /** The InferenceModelRewrite whose rule chose `targetModel`, when one did. */
  readonly rewrite?: string;
  readonly objective: string;
  readonly fairnessId: string;
  readonly priority: number;
}

export interface DecisionEvent extends RequestLabels {
  /** `routed`, or the drop reason of a rejection. */
  readonly result: string;
  /** HTTP status sent for a rejection; 200 for routed (the real status comes from the model server). */
  readonly status: number;
  /** Time spent in flow control, ms. */
  readonly queueMs: number;
  /** Time spent picking the endpoint, ms. */
  readonly scheduleMs: number;
  readonly endpoint: string | undefined;
}

export interface ResponseEvent extends RequestLabels {
  readonly status: number;
  /** `evicted`: flow control took the request back in flight (the client got 429 or an error event). */
  readonly how: 'complete' | 'aborted' | 'evicted';
  /** From the request's arrival to the end of its response, ms. */
  readonly durationMs: number;
  readonly promptTokens: number | undefined;
  readonly outputTokens: number | undefined;
}

/** Proxy mode: one failed connection attempt to the model server (nothing was sent). */
export interface ConnectFailureEvent {
  readonly endpoint: string;
  /** The request moved on to its next candidate; false when it had none left (answered 503). */
  readonly retried: boolean;
}

/** A model server answered a routed request (its response began): evidence that the endpoint is reachable. */
export interface ServedEvent {
  readonly endpoint: string;
  /** Another endpoint than the primary served (a fallback): in-flight counts and prefix records moved to it. */
  readonly fallback?: boolean;
}

/**
 * A front end answered a request itself, before the pipeline saw it (headers or body over the limit, an ext_proc
 * body mode no route can be given in, malformed HTTP): no identity, model or priority is known yet. Also the
 * pipeline's own 500 `internal` (it failed unexpectedly), labelled the same way.
 */
export interface RefusedEvent {
  /** The drop reason sent in `x-fairway-drop-reason`. */
  readonly reason: string;
  readonly status: number;
}

export interface GatewayObserver {
  onDecision(event: DecisionEvent): void;
  onResponse(event: ResponseEvent): void;
  onConnectFailure?(event: ConnectFailureEvent): void;
  onServed?(event: ServedEvent): void;
  onRefused?(event: RefusedEvent): void;
}

/** What a front end reports to: only its own refusals (everything else reaches the observer through the pipeline). */
export type RefusalObserver = Pick<GatewayObserver, 'onRefused'>;

/**
 * Reports a refusal to `observer` (the front ends' own, or the pipeline's 500). An observer that throws is logged,
 * never allowed to keep the request from its answer.
 */
export function reportRefusal(observer: RefusalObserver | undefined, event: RefusedEvent, logger: Logger, requestId?: string): void {
  try {
    observer?.onRefused?.(event);
  } catch (err) {
    logger.error({ err, ...(requestId === undefined ? {} : { requestId }) }, 'refusal observer threw');
  }
}

export const noopGatewayObserver: GatewayObserver = {
  onDecision: () => {},
  onResponse: () => {},
};

const GATEWAY_OBSERVER_METHODS: ObserverMethods<GatewayObserver> = {
  onDecision: true,
  onResponse: true,
  onConnectFailure: true,
  onServed: true,
  onRefused: true,
};

/**
 * One observer that forwards every event to each of `observers` (by name, in order), each guarded: one that throws
 * is reported to `faults` and the others are still told. None: the no-op observer.
 */
export function fanOutGatewayObserver(observers: Readonly<Record<string, GatewayObserver>>, faults: ObserverFaults): GatewayObserver {
  if (Object.keys(observers).length === 0) return noopGatewayObserver;
  return fanOutObservers(observers, GATEWAY_OBSERVER_METHODS, faults);
}
