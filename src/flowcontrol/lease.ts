// The lease a dispatched request holds until its response ends; releasing it twice is harmless.
import { type Flow } from './flow.js';
import { type ActualCost, type Lease } from './types.js';
import { MAX_REQUEST_COST } from './validate-request.js';

/** What releasing a lease needs to know: whose it was and what it was charged. */
export interface LeaseAccount {
  readonly flow: Flow;
  readonly estimatedCost: number;
}

export type LeaseReleaser = (lease: LeaseAccount, actual: ActualCost | undefined) => void;

/** The lease of a request dispatched without queueing (a queued request's item is its own lease). */
export class FlowLease implements Lease, LeaseAccount {
  private released = false;

  constructor(
    readonly flow: Flow,
    readonly estimatedCost: number,
    readonly dispatchedAt: number,
    private readonly releaser: LeaseReleaser,
  ) {}

  get priority(): number {
    return this.flow.priority;
  }

  get fairnessId(): string {
    return this.flow.fairnessId;
  }

  release(actual?: ActualCost): void {
    if (this.released) return;
    this.released = true;
    this.releaser(this, actual);
  }
}

/**
 * Total tokens of a reported actual cost, or undefined when the report is unusable (negative, NaN, missing);
 * clamped to MAX_REQUEST_COST so a lying model server cannot swamp the fairness counters either.
 */
export function actualTotal(actual: ActualCost | undefined): number | undefined {
  if (actual === undefined) return undefined;
  const total = actual.promptTokens + actual.outputTokens;
  if (!Number.isFinite(total) || actual.promptTokens < 0 || actual.outputTokens < 0) return undefined;
  return Math.min(total, MAX_REQUEST_COST);
}
