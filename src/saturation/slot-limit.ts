// Learned batch-slot limits: how many requests each model server can run at once (vLLM `max_num_seqs`, which no
// metric reports), read from its own scrapes, so the hybrid detector can release work only when a server can
// start it instead of piling it into the server's FCFS waiting queue, where tenants and priorities mix.

/** What one scrape says about an endpoint's batch. */
export interface BatchReading {
  /** Clock time of the scrape: a reading is learned from once. */
  readonly scrapedAt: number;
  readonly running: number;
  readonly waiting: number;
  /** KV-cache usage in [0, 1]. */
  readonly kvUsage: number;
}

interface SlotState {
  scrapedAt: number;
  /** The most requests the server was seen running at once: it can run at least that many. */
  maxRunning: number;
  /**
   * `unknown`: never seen queueing (no limit). `provisional`: seen queueing, so it runs no more than it was seen
   * running plus the open probe, probed at every reading that finds the bound reached with nothing waiting.
   * `confirmed`: seen queueing at its most-ever running count, with KV to spare and the count not climbing, in
   * two readings in a row: maxRunning is its limit, probed rarely.
   */
  phase: 'unknown' | 'provisional' | 'confirmed';
  /** Whether the previous reading had requests waiting with KV to spare. */
  waitedBefore: boolean;
  /** Running count of the previous reading. */
  runningBefore: number;
  /** Readings in a row at the limit with nothing waiting. */
  fullWithoutWait: number;
  /** Requests beyond maxRunning that may be sent until the next reading (a probe); 0 when none is open. */
  probe: number;
  /** Size of the next probe: doubles after a probe that ran, back to 1 after one that waited. */
  nextProbe: number;
  /** Readings at the limit with nothing waiting before the next probe: doubles after a probe that waited. */
  probeAfter: number;
}

/** Readings in a row at the limit with nothing waiting before one request beyond it is tried (at 50 ms: 0.2 s). */
export const SLOT_PROBE_READINGS = 4;
/** Growth of a provisional bound per reading that finds it reached with nothing waiting (8 -> 256 in ~1.5 s). */
export const SLOT_PROVISIONAL_GROWTH = 1 / 8;
/** The longest wait between probes after probes that found the batch full (at 50 ms: 6.4 s). */
export const SLOT_PROBE_MAX_READINGS = 128;

/**
 * Rule, per endpoint, once per scrape. A server can run at least as many requests as it was ever seen running,
 * and never more than its batch slots, so the largest running count seen is a lower bound that reaches the
 * true limit once the batch was full.
 * - Until the server is seen queueing, its limit is unknown and the detector's other terms decide alone.
 * - Once it queues, the bound becomes a provisional limit: a server that queued is kept from queueing more.
 *   A queue can come from the step's token budget (a burst of long prompts is admitted a few per step while
 *   slots are free), so at every reading that finds the bound reached with nothing waiting, an eighth more is
 *   tried (SLOT_PROVISIONAL_GROWTH); what runs raises the bound.
 * - It is confirmed as the server's slots when the server queues at that count in two readings in a row with
 *   KV to spare (below `kvRoom`) and its running count did not climb between them: two, because a request that
 *   reached the server during a step waits until the next step even when slots are free; not climbing, because
 *   a server held by its token budget admits part of its queue at every step (the weakness of the rule before:
 *   it took the first queue for full slots and settled at a third of them). A confirmed limit is still probed
 *   (one request beyond it after SLOT_PROBE_READINGS readings at the limit with nothing waiting, doubling after
 *   a probe that ran), but a probe that waits doubles the readings before the next one, up to
 *   SLOT_PROBE_MAX_READINGS, since each such probe waits in the server's queue where higher-priority work
 *   sent there would wait behind it.
 * Complexity: O(1) per reading; one small record per endpoint, dropped with the endpoint (`retain`).
 */
export class SlotLimitLearner {
  private readonly states = new Map<string, SlotState>();

  constructor(private readonly kvRoom: number) {}

  /** Learns from `reading` if it is new; returns the endpoint's limit (undefined: not known yet). */
  observe(endpointId: string, reading: BatchReading): number | undefined {
    let state = this.states.get(endpointId);
    if (state === undefined) {
      state = {
        scrapedAt: Number.NaN,
        maxRunning: 0,
        phase: 'unknown',
        waitedBefore: false,
        runningBefore: 0,
        fullWithoutWait: 0,
        probe: 0,
        nextProbe: 1,
        probeAfter: SLOT_PROBE_READINGS,
      };
      this.states.set(endpointId, state);
    }
    if (state.scrapedAt !== reading.scrapedAt) learn(state, reading, this.kvRoom);
    return limitOf(state);
  }

  limitOf(endpointId: string): number | undefined {
    const state = this.states.get(endpointId);
    return state === undefined ? undefined : limitOf(state);
  }

  /** Forgets endpoints that left the pool. O(tracked endpoints). */
  retain(isLive: (endpointId: string) => boolean): void {
    for (const id of this.states.keys()) if (!isLive(id)) this.states.delete(id);
  }

  get size(): number {
    return this.states.size;
  }
}

function limitOf(state: SlotState): number | undefined {
  return state.phase === 'unknown' ? undefined : state.maxRunning + state.probe;
}

function learn(state: SlotState, reading: BatchReading, kvRoom: number): void {
  state.scrapedAt = reading.scrapedAt;
  const running = reading.running;
  const queueing = reading.waiting > 0;
  const waited = queueing && reading.kvUsage < kvRoom;
  // Not grown since the previous reading: a server whose step budget, not its slots, holds the queue admits
  // some of it at every step, so its running count climbs while it queues.
  const stalled = running <= state.runningBefore;
  // A provisional probe that found the server queueing without running more is the same evidence: it was sent
  // work beyond the bound and did not start it.
  const probeWaited = state.phase === 'provisional' && state.probe > 0;
  if (running >= state.maxRunning && waited && (state.waitedBefore || probeWaited) && stalled && running > 0) state.phase = 'confirmed';
  else if (state.phase === 'unknown' && queueing && running > 0) state.phase = 'provisional';
  if (state.probe > 0) {
    const ran = running > state.maxRunning && !queueing;
    state.nextProbe = ran ? 2 * state.probe : 1;
    if (state.phase === 'confirmed') {
      state.probeAfter = ran ? SLOT_PROBE_READINGS : Math.min(2 * state.probeAfter, SLOT_PROBE_MAX_READINGS);
    }
  }
  state.maxRunning = Math.max(state.maxRunning, running);
  state.waitedBefore = waited;
  state.runningBefore = running;
  state.probe = 0;
  const atLimitIdleQueue = !queueing && running >= state.maxRunning;
  if (state.phase === 'provisional') {
    // Only a lower bound: at every reading that finds it reached and nothing waiting, try an eighth more. Small
    // steps, because a probe that overshoots the true slots leaves requests in the server's FCFS queue for as
    // long as its running requests take, and higher-priority work sent there waits behind them.
    if (atLimitIdleQueue) state.probe = Math.max(1, Math.ceil(state.maxRunning * SLOT_PROVISIONAL_GROWTH));
    return;
  }
  if (state.phase !== 'confirmed') return;
  if (atLimitIdleQueue) {
    if (++state.fullWithoutWait >= state.probeAfter) {
      state.fullWithoutWait = 0;
      state.probe = state.nextProbe;
    }
  } else {
    state.fullWithoutWait = 0;
  }
}
