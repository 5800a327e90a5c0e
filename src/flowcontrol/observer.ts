// Observability port of flow control, with a no-op default. Gauges are not pushed: adapters read
// `FlowController.stats()` at scrape time.
import { type ObserverFaults, type ObserverMethods, fanOutObservers } from '../core/index.js';
import { type EvictReason, type InflightEvictReason, type RejectReason } from './types.js';

export interface OutcomeEvent {
  readonly kind: 'dispatched' | 'rejected' | 'evicted';
  readonly reason: RejectReason | EvictReason | undefined;
  readonly priority: number;
  readonly fairnessId: string;
  /** Time queued, ms (0 for rejections). */
  readonly waitMs: number;
}

/** One in-flight eviction attempt: the victim's front end took it (`evicted`) or could not any more (`declined`). */
export interface InflightEvictionEvent {
  readonly outcome: 'evicted' | 'declined';
  readonly reason: InflightEvictReason;
  /** The victim's priority and tenant. */
  readonly priority: number;
  readonly fairnessId: string;
  /** Priority of the blocked band it made room for. */
  readonly forPriority: number;
  /** Output tokens the victim had produced (as far as its front end reported). */
  readonly progress: number;
  /** Time since the victim's dispatch, ms. */
  readonly ranMs: number;
}

export interface FlowControlObserver {
  onOutcome(event: OutcomeEvent): void;
  /** One dispatch cycle: how long it took (ms) and how many requests it dispatched. */
  onDispatchCycle(durationMs: number, dispatched: number): void;
  /** A lease ended, with the estimated and (if reported) actual cost in tokens. */
  onRelease(priority: number, fairnessId: string, estimatedCost: number, actualCost: number | undefined): void;
  /** An in-flight eviction attempt (see inflight-eviction.ts). Optional: older observers need not implement it. */
  onInflightEviction?(event: InflightEvictionEvent): void;
  /** A request was queued (not dispatched at once): its tenant has demand even before any outcome. */
  onQueued?(priority: number, fairnessId: string): void;
}

export const noopFlowControlObserver: FlowControlObserver = {
  onOutcome: () => {},
  onDispatchCycle: () => {},
  onRelease: () => {},
  onInflightEviction: () => {},
};

const FLOW_CONTROL_OBSERVER_METHODS: ObserverMethods<FlowControlObserver> = {
  onOutcome: true,
  onDispatchCycle: true,
  onRelease: true,
  onInflightEviction: true,
  onQueued: true,
};

/**
 * One observer that forwards every event to each of `observers` (by name, in order: metrics and the status page,
 * say), each guarded: one that throws is reported to `faults`, the others are still told, and the controller's
 * bookkeeping goes on (the request still reaches its one outcome). None: the no-op observer.
 */
export function fanOutFlowControlObserver(observers: Readonly<Record<string, FlowControlObserver>>, faults: ObserverFaults): FlowControlObserver {
  if (Object.keys(observers).length === 0) return noopFlowControlObserver;
  return fanOutObservers(observers, FLOW_CONTROL_OBSERVER_METHODS, faults);
}
