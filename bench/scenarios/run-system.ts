// One system over one scenario's traffic in virtual time: builds the pool and the system, replays the planned
// arrivals, runs until every request has an outcome, and returns what the recorder saw.
import { ManualClock } from '../../src/core/index.js';
import { type SimProfile } from '../../src/simulator/index.js';
import { SimGateway } from './gateway.js';
import { Recorder } from './recorder.js';
import { SimPool } from './sim-pool.js';
import { type FlowSettings, type SystemName, buildSystem } from './systems.js';
import { type PlannedRequest } from './traffic.js';
import { runUntil } from './virtual-loop.js';

/** Metrics are scraped for this long before traffic starts, so the pool is known when it does. */
export const WARMUP_MS = 500;

export interface RunInput {
  readonly system: SystemName;
  readonly pods: number;
  readonly seed: number;
  readonly requests: readonly PlannedRequest[];
  readonly tenants: readonly string[];
  readonly settings: FlowSettings;
  /** Metrics are unavailable (the pool reads stale) until this many ms after traffic starts. */
  readonly metricsOutageMs?: number;
  /** The engines' profile. @default CI_PROFILE */
  readonly profile?: SimProfile;
}

export interface RunOutput {
  readonly system: SystemName;
  readonly recorder: Recorder;
  /** Virtual time of the start of traffic and of the last outcome. */
  readonly startMs: number;
  readonly endMs: number;
  readonly wallMs: number;
  /** Dispatches admitted by the 1 ms tick gate (go-defaults only). */
  readonly tickDispatches: number | undefined;
  /** Prompt tokens the engines looked up in their prefix caches at first admission, and how many hit. */
  readonly prefixCache?: { readonly queriedTokens: number; readonly cachedTokens: number };
}

export async function runSystem(input: RunInput): Promise<RunOutput> {
  const wallStart = performance.now();
  const clock = new ManualClock(0);
  const recorder = new Recorder(input.tenants);
  const pool = new SimPool({
    clock,
    pods: input.pods,
    seed: input.seed,
    onAdmit: (id, t) => recorder.stopWaiting(id, t),
    ...(input.profile === undefined ? {} : { profile: input.profile }),
  });
  const prefixCache = { queriedTokens: 0, cachedTokens: 0 };
  for (const m of pool.members) {
    m.engine.observe((e) => {
      if (e.kind !== 'admit' || e.resumed) return;
      prefixCache.queriedTokens += e.queriedTokens;
      prefixCache.cachedTokens += e.cachedTokens;
    });
  }
  const system = buildSystem(input.system, pool, clock, input.seed, input.settings);
  const gateway = new SimGateway(clock, pool, system, recorder);
  if (input.metricsOutageMs === undefined) pool.startScraping();
  else clock.setTimeout(() => pool.startScraping(), WARMUP_MS + input.metricsOutageMs);

  let sent = 0;
  let lastArrival = 0;
  let longestTimeout = 0;
  for (const r of input.requests) {
    lastArrival = Math.max(lastArrival, r.arrivalMs);
    longestTimeout = Math.max(longestTimeout, r.clientTimeoutMs);
    clock.setTimeout(() => {
      sent++;
      void gateway.send(r);
    }, WARMUP_MS + r.arrivalMs);
  }
  const total = input.requests.length;
  const hardEnd = WARMUP_MS + lastArrival + longestTimeout + 5_000;
  const endMs = await runUntil(clock, hardEnd, () => sent === total && recorder.pending === 0);
  const tickDispatches = system.gate?.dispatches;
  system.close();
  pool.close();
  return { system: input.system, recorder, startMs: WARMUP_MS, endMs, wallMs: performance.now() - wallStart, tickDispatches, prefixCache };
}
