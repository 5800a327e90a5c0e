// The lease a dispatched request holds until its response ends; releasing it twice is harmless.
import { type Band } from './band.js';
import { type Flow } from './flow.js';
import { type EvictionEntry } from './inflight-eviction.js';
import { type ActualCost, type Lease } from './types.js';
import { MAX_REQUEST_COST } from './validate-request.js';

/**
 * What dispatching and releasing a lease need to know: whose it was and what it was charged. `flow` is absent for
 * a dispatch on the fast path (nothing queued anywhere): with no contention there is nobody to be fair to, so no
 * per-tenant state is looked up, charged or corrected for it (see weighted-fair.ts on why fairness loses nothing).
 */
export interface LeaseAccount {
  readonly flow: Flow | undefined;
  readonly band: Band;
  readonly priority: number;
  readonly fairnessId: string;
  readonly estimatedCost: number;
  /** Its place in the in-flight eviction index while it is evictable; set and cleared by the controller. */
  evictionEntry: EvictionEntry | undefined;
  /** Set by the controller at dispatch: see `Lease.pacePrefill`. */
  pacePrefill: boolean;
}

export type LeaseReleaser = (lease: LeaseAccount, actual: ActualCost | undefined) => void;

/** The lease of a request dispatched without queueing (a queued request's item is its own lease). */
export class FlowLease implements Lease, LeaseAccount {
  private released = false;
  evictionEntry: EvictionEntry | undefined = undefined;
  pacePrefill = false;

  constructor(
    readonly band: Band,
    readonly fairnessId: string,
    readonly estimatedCost: number,
    readonly dispatchedAt: number,
    private readonly releaser: LeaseReleaser,
  ) {}

  get flow(): undefined {
    return undefined;
  }

  get priority(): number {
    return this.band.priority;
  }

  get evictable(): boolean {
    return this.evictionEntry?.indexed === true;
  }

  reportProgress(outputTokens: number): void {
    const entry = this.evictionEntry;
    if (entry !== undefined) entry.owner.progress(entry, outputTokens);
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
