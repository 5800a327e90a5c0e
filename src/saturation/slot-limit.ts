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
  /** Whether the server was seen queueing at its most-ever running count: then maxRunning is its limit. */
  armed: boolean;
  /** Whether the previous reading had requests waiting with KV to spare. */
  waitedBefore: boolean;
  /** Readings in a row at the limit with nothing waiting. */
  fullWithoutWait: number;
  /** Requests beyond maxRunning that may be sent until the next reading (a probe); 0 when none is open. */
  probe: number;
  /** Size of the next probe: doubles after a probe that ran, back to 1 after one that waited. */
  nextProbe: number;
}

/** Readings in a row at the limit with nothing waiting before one request beyond it is tried (at 50 ms: 0.2 s). */
export const SLOT_PROBE_READINGS = 4;

/**
 * Rule, per endpoint, once per scrape. A server can run at least as many requests as it was ever seen running,
 * and never more than its batch slots, so the largest running count seen is a lower bound that reaches the
 * true limit once the batch was full. It becomes the limit (`armed`) when the server is seen queueing at that
 * count in two readings in a row with KV to spare (below `kvRoom`); two, because a request that reached the
 * server during a step waits until the next step even when slots are free. The bound only grows, so a server
 * that queued for another reason (a step's token budget taken by long prefills) is not mistaken for a smaller
 * one for long: after SLOT_PROBE_READINGS readings at the limit with nothing waiting, one request beyond it is
 * tried; if it runs, the bound grows, and if it waits, the probe ends. The server's queue thus stays empty but
 * for a probe now and then. Until armed, the limit is unknown and the detector's other terms decide alone.
 * Complexity: O(1) per reading; one small record per endpoint, dropped with the endpoint (`retain`).
 */
export class SlotLimitLearner {
  private readonly states = new Map<string, SlotState>();

  constructor(private readonly kvRoom: number) {}

  /** Learns from `reading` if it is new; returns the endpoint's limit (undefined: not known yet). */
  observe(endpointId: string, reading: BatchReading): number | undefined {
    let state = this.states.get(endpointId);
    if (state === undefined) {
      state = { scrapedAt: Number.NaN, maxRunning: 0, armed: false, waitedBefore: false, fullWithoutWait: 0, probe: 0, nextProbe: 1 };
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
  return state.armed ? state.maxRunning + state.probe : undefined;
}

function learn(state: SlotState, reading: BatchReading, kvRoom: number): void {
  state.scrapedAt = reading.scrapedAt;
  const running = reading.running;
  const waited = reading.waiting > 0 && reading.kvUsage < kvRoom;
  if (running >= state.maxRunning && waited && state.waitedBefore && running > 0) state.armed = true;
  if (state.probe > 0) state.nextProbe = running > state.maxRunning && reading.waiting === 0 ? 2 * state.probe : 1;
  state.maxRunning = Math.max(state.maxRunning, running);
  state.waitedBefore = waited;
  state.probe = 0;
  if (!state.armed) return;
  if (reading.waiting === 0 && running >= state.maxRunning) {
    if (++state.fullWithoutWait >= SLOT_PROBE_READINGS) {
      state.fullWithoutWait = 0;
      state.probe = state.nextProbe;
    }
  } else {
    state.fullWithoutWait = 0;
  }
}
