// What the engine benchmark runs (full and --quick sizes) and the targets of issue 2 it reports against.

export interface Plan {
  readonly quick: boolean;
  /** Measured repetitions per figure (medians are quoted), after one warm-up pass. */
  readonly repetitions: number;
  /** Repetitions of the 100k-backlog burst, engine and p-queue (p-queue takes seconds per run). */
  readonly burstRepetitions: number;
  /** Repetitions at the steady 100k backlog, engine and p-queue (p-queue takes seconds per pass). */
  readonly steadyRepetitions: number;
  /**
   * Requests beyond the first `backlog` in the steady measurement: those issued while the backlog is full. Sized
   * per system so each measures a window of about a second or more: the engine's rate after filling a 100k
   * backlog takes some 300k dispatches to settle (60k gave half the settled rate), p-queue's is flat at once.
   */
  readonly steadyExtraRequests: { readonly engine: number; readonly pqueue: number };
  readonly flows: readonly number[];
  readonly bands: readonly number[];
  /** Requests per measured pass of the closed loop. */
  readonly freeRequests: number;
  readonly backlogRequests: number;
  /** Concurrent callers kept outstanding in the closed loop. */
  readonly callers: number;
  /** The concurrency limit holding the backlog (saturation = in flight / limit). */
  readonly limit: number;
  /** Size of the backlog in the burst, drain and heap measurements. */
  readonly backlog: number;
  /** Flow populations of the heap measurement. */
  readonly heapFlows: readonly number[];
  /** Band counts of the drain and burst measurements (at 10k flows). */
  readonly drainBands: readonly number[];
}

export function planFor(quick: boolean): Plan {
  return {
    quick,
    repetitions: quick ? 2 : 5,
    burstRepetitions: quick ? 1 : 3,
    steadyRepetitions: quick ? 1 : 3,
    steadyExtraRequests: quick ? { engine: 300_000, pqueue: 30_000 } : { engine: 500_000, pqueue: 60_000 },
    flows: [10, 10_000, 100_000],
    bands: [1, 8],
    freeRequests: quick ? 40_000 : 150_000,
    backlogRequests: quick ? 30_000 : 100_000,
    callers: 5_000,
    limit: 100,
    backlog: 100_000,
    heapFlows: quick ? [10_000] : [10, 10_000, 100_000],
    drainBands: quick ? [8] : [1, 8],
  };
}

export const TARGETS = {
  /** Free flow, dispatches/s (at 10k flows, worst of 1 and 8 bands). */
  freePerSec: 500_000,
  /** Backlog held by the concurrency limit, dispatches/s (at 10k flows, worst of 1 and 8 bands). */
  backlogPerSec: 300_000,
  /** Cost per dispatch at 100k flows / at 10 flows (worst over mode and bands). */
  flowCostRatio: 1.5,
  /** Engine / p-queue dispatch rate at a steady 100k backlog (worst over bands). */
  pqueueSpeedup: 20,
  /** Heap per queued request beyond the request object, bytes (worst over flow counts). */
  heapBytes: 512,
  /** Drain: the first dispatch within this many ms of the gate opening... */
  drainFirstDispatchMs: 1,
  /** ...and the event loop busy (not waiting on timers) at least this share of the drain. */
  drainLoopUtilisation: 0.9,
} as const;
