// Observability port of flow control, with a no-op default. Gauges are not pushed: adapters read
// `FlowController.stats()` at scrape time.
import { type EvictReason, type RejectReason } from './types.js';

export interface OutcomeEvent {
  readonly kind: 'dispatched' | 'rejected' | 'evicted';
  readonly reason: RejectReason | EvictReason | undefined;
  readonly priority: number;
  readonly fairnessId: string;
  /** Time queued, ms (0 for rejections). */
  readonly waitMs: number;
}

export interface FlowControlObserver {
  onOutcome(event: OutcomeEvent): void;
  /** One dispatch cycle: how long it took (ms) and how many requests it dispatched. */
  onDispatchCycle(durationMs: number, dispatched: number): void;
  /** A lease ended, with the estimated and (if reported) actual cost in tokens. */
  onRelease(priority: number, fairnessId: string, estimatedCost: number, actualCost: number | undefined): void;
}

export const noopFlowControlObserver: FlowControlObserver = {
  onOutcome: () => {},
  onDispatchCycle: () => {},
  onRelease: () => {},
};
