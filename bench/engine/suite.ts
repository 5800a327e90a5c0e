// Runs every measurement of the engine benchmark (the engine through both of its APIs, and p-queue, side by side)
// and returns raw figures: the closed-loop grid (free flow and backlog x flows x bands), the cost-per-dispatch
// ratios between flow counts (interleaved pairs), the rate at a steady 100k backlog, the 100k burst, the drain
// and the heap.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import PQueue from 'p-queue';
import { type FlowController, type FlowRequest } from '../../src/flowcontrol/index.js';
import { type LoopFigures, closedLoop, closedLoopCallbacks } from './closed-loop.js';
import { type BurstSystem } from './burst-child.js';
import {
  type BurstFigures,
  type DrainFigures,
  type EngineApi,
  type HeapFigures,
  engineCallbackCallers,
  engineCallers,
  engineDrain,
  engineHeap,
  newController,
} from './engine.js';
import { type Plan } from './plan.js';
import { pqueueCallers } from './pqueue.js';
import { type Mix, distinctTenants, makeRequests } from './requests.js';
import { ConcurrencyLimitSaturation, FreeSaturation } from './saturation.js';
import { forceGc, median } from './stats.js';

export type Mode = 'free' | 'backlog';

export interface LoopSummary {
  /** Medians over the repetitions. */
  readonly perSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Rate while every caller has a request out (see LoopFigures.steadyPerSec). */
  readonly steadyPerSec: number;
  /** Dispatches/s of every repetition, in order. */
  readonly runs: readonly number[];
}

export interface GridCell {
  readonly mode: Mode;
  readonly flows: number;
  readonly bands: number;
  readonly callers: number;
  readonly requests: number;
  /** Distinct tenants in the request mix, and flows the engine held live at the end. */
  readonly touchedTenants: number;
  readonly liveFlows: number;
  /** The engine through `enqueue` (outcome by callback). */
  readonly engine: LoopSummary;
  /** The engine through `enqueueAndWait` (outcome by Promise). */
  readonly enginePromise: LoopSummary;
  readonly pqueue: LoopSummary;
}

/** Cost per dispatch at the largest flow count over the smallest: the median over interleaved pairs of passes. */
export interface FlowCostRatio {
  readonly mode: Mode;
  readonly bands: number;
  readonly ratio: number;
  readonly pairs: readonly number[];
}

export interface SteadySummary {
  readonly bands: number;
  readonly flows: number;
  /** Callers, hence requests outstanding: the backlog held behind the concurrency limit. */
  readonly backlog: number;
  readonly requests: number;
  readonly engine: LoopSummary;
  readonly enginePromise: LoopSummary;
  readonly pqueue: LoopSummary;
  /** Steady rates, engine over p-queue. */
  readonly speedup: number;
  readonly speedupPromise: number;
}

export type BurstRuns = BurstFigures & { readonly runs: readonly number[] };

export interface BurstSummary {
  readonly bands: number;
  readonly flows: number;
  readonly backlog: number;
  readonly engine: BurstRuns;
  readonly enginePromise: BurstRuns;
  readonly pqueue: BurstRuns;
  readonly speedup: number;
  readonly speedupPromise: number;
}

export interface DrainSummary extends DrainFigures {
  readonly flows: number;
  readonly bands: number;
  readonly runs: readonly number[];
}

export interface SuiteResults {
  readonly grid: readonly GridCell[];
  readonly ratios: readonly FlowCostRatio[];
  readonly steady: readonly SteadySummary[];
  readonly burst: readonly BurstSummary[];
  readonly drain: readonly DrainSummary[];
  readonly heap: readonly HeapFigures[];
}

type Log = (line: string) => void;

const execFileAsync = promisify(execFile);
/** One pass of a closed loop over `requests` (the caller count is bound in). */
type Pass = (requests: readonly FlowRequest[]) => Promise<LoopFigures>;

function summarise(runs: readonly LoopFigures[]): LoopSummary {
  return {
    perSec: median(runs.map((r) => r.perSec)),
    p50Us: median(runs.map((r) => r.p50Us)),
    p99Us: median(runs.map((r) => r.p99Us)),
    steadyPerSec: median(runs.map((r) => r.steadyPerSec)),
    runs: runs.map((r) => Math.round(r.perSec)),
  };
}

const warmUp = (requests: readonly FlowRequest[]): readonly FlowRequest[] => requests.slice(0, Math.max(1, requests.length >> 2));

/** One warm-up pass on a quarter of the requests, then `repetitions` measured passes over all of them. */
async function repeat(pass: Pass, requests: readonly FlowRequest[], repetitions: number): Promise<LoopSummary> {
  await pass(warmUp(requests));
  const runs: LoopFigures[] = [];
  for (let r = 0; r < repetitions; r++) {
    forceGc();
    runs.push(await pass(requests));
  }
  return summarise(runs);
}

interface EngineSetup {
  readonly fc: FlowController;
  readonly pass: Pass;
}

function engineFor(mode: Mode, api: EngineApi, callers: number, limitSize: number): EngineSetup {
  const limit = mode === 'free' ? undefined : new ConcurrencyLimitSaturation(limitSize);
  const fc = newController(limit ?? new FreeSaturation());
  const pass: Pass =
    api === 'callback'
      ? (requests) => closedLoopCallbacks(requests, callers, engineCallbackCallers(fc, limit))
      : (requests) => closedLoop(requests, callers, engineCallers(fc, limit));
  return { fc, pass };
}

function pqueueFor(mode: Mode, callers: number, limit: number): Pass {
  const queue = new PQueue({ concurrency: mode === 'free' ? Infinity : limit });
  return (requests) => closedLoop(requests, callers, pqueueCallers(queue));
}

/**
 * Every flow count of one (mode, bands): the callback-API passes of the flow counts are interleaved, so the
 * cost ratio between flow counts compares passes run moments apart (this machine drifts by tens of percent
 * over a minute); the Promise-API and p-queue passes follow, per flow count.
 */
async function gridRow(plan: Plan, mode: Mode, bands: number, seed: number, log: Log): Promise<{ cells: GridCell[]; ratio: FlowCostRatio }> {
  const n = mode === 'free' ? plan.freeRequests : plan.backlogRequests;
  const setups = plan.flows.map((flows, i) => {
    const requests = makeRequests(n, { flows, bands }, seed + i);
    return { flows, requests, engine: engineFor(mode, 'callback', plan.callers, plan.limit) };
  });
  for (const s of setups) await s.engine.pass(warmUp(s.requests));
  const engineRuns = setups.map((): LoopFigures[] => []);
  for (let r = 0; r < plan.repetitions; r++) {
    for (const [i, s] of setups.entries()) {
      forceGc();
      engineRuns[i]?.push(await s.engine.pass(s.requests));
    }
  }
  const cells: GridCell[] = [];
  for (const [i, s] of setups.entries()) {
    const liveFlows = s.engine.fc.stats().liveFlows;
    await s.engine.fc.close();
    const promiseSetup = engineFor(mode, 'promise', plan.callers, plan.limit);
    const enginePromise = await repeat(promiseSetup.pass, s.requests, plan.repetitions);
    await promiseSetup.fc.close();
    const pqueue = await repeat(pqueueFor(mode, plan.callers, plan.limit), s.requests, plan.repetitions);
    const cell: GridCell = {
      mode,
      flows: s.flows,
      bands,
      callers: plan.callers,
      requests: n,
      touchedTenants: distinctTenants(s.requests),
      liveFlows,
      engine: summarise(engineRuns[i] ?? []),
      enginePromise,
      pqueue,
    };
    log(
      `  ${mode} flows=${s.flows} bands=${bands}: engine ${Math.round(cell.engine.perSec)}/s ` +
        `(Promise API ${Math.round(enginePromise.perSec)}/s), p-queue ${Math.round(pqueue.perSec)}/s`,
    );
    cells.push(cell);
  }
  const lo = engineRuns[0] ?? [];
  const hi = engineRuns[engineRuns.length - 1] ?? [];
  const pairs = lo.map((a, r) => a.perSec / (hi[r]?.perSec ?? Number.NaN));
  return { cells, ratio: { mode, bands, ratio: median(pairs), pairs } };
}

/** A closed loop of `plan.backlog` callers behind the concurrency limit: the backlog stays at that size. */
async function steady(plan: Plan, mix: Mix, seed: number): Promise<SteadySummary> {
  const requests = makeRequests(plan.backlog + plan.steadyExtraRequests, mix, seed);
  const measure = async (api: EngineApi): Promise<LoopSummary> => {
    const setup = engineFor('backlog', api, plan.backlog, plan.limit);
    const summary = await repeat(setup.pass, requests, plan.steadyRepetitions);
    await setup.fc.close();
    return summary;
  };
  const engine = await measure('callback');
  const enginePromise = await measure('promise');
  forceGc();
  // p-queue takes seconds per pass here (O(n) per dequeue and per out-of-order insert): one pass, no warm-up
  // beyond the grid's.
  const pqueue = summarise([await pqueueFor('backlog', plan.backlog, plan.limit)(requests)]);
  return {
    bands: mix.bands,
    flows: mix.flows,
    backlog: plan.backlog,
    requests: requests.length,
    engine,
    enginePromise,
    pqueue,
    speedup: engine.steadyPerSec / pqueue.steadyPerSec,
    speedupPromise: enginePromise.steadyPerSec / pqueue.steadyPerSec,
  };
}

function pickBurst(runs: readonly BurstFigures[], requests: number): BurstRuns {
  return {
    requests,
    enqueueMs: median(runs.map((r) => r.enqueueMs)),
    ms: median(runs.map((r) => r.ms)),
    perSec: median(runs.map((r) => r.perSec)),
    runs: runs.map((r) => Math.round(r.perSec)),
  };
}

/** Runs one burst measurement in a fresh Node process (see burst-child.ts). */
async function burstInChild(system: BurstSystem, plan: Plan, bands: number, seed: number): Promise<BurstFigures> {
  const child = fileURLToPath(new URL('./burst-child.js', import.meta.url));
  const args = ['--expose-gc', child, system, String(bands), String(seed), String(plan.backlog), String(plan.limit)];
  const { stdout } = await execFileAsync(process.execPath, args, { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as BurstFigures;
}

/** Each repetition runs the three systems one after the other, each in a process of its own. */
async function burst(plan: Plan, mix: Mix, seed: number): Promise<BurstSummary> {
  const callbackRuns: BurstFigures[] = [];
  const promiseRuns: BurstFigures[] = [];
  const pqueueRuns: BurstFigures[] = [];
  for (let r = 0; r < plan.burstRepetitions; r++) {
    callbackRuns.push(await burstInChild('callback', plan, mix.bands, seed));
    promiseRuns.push(await burstInChild('promise', plan, mix.bands, seed));
    pqueueRuns.push(await burstInChild('p-queue', plan, mix.bands, seed));
  }
  const engine = pickBurst(callbackRuns, plan.backlog);
  const enginePromise = pickBurst(promiseRuns, plan.backlog);
  const pqueue = pickBurst(pqueueRuns, plan.backlog);
  return {
    bands: mix.bands,
    flows: mix.flows,
    backlog: plan.backlog,
    engine,
    enginePromise,
    pqueue,
    speedup: engine.perSec / pqueue.perSec,
    speedupPromise: enginePromise.perSec / pqueue.perSec,
  };
}

async function drain(plan: Plan, mix: Mix, seed: number): Promise<DrainSummary> {
  const requests = makeRequests(plan.backlog, mix, seed);
  await engineDrain(requests.slice(0, plan.backlog >> 3)); // warm-up
  const runs: DrainFigures[] = [];
  for (let r = 0; r < plan.repetitions; r++) runs.push(await engineDrain(requests));
  return {
    flows: mix.flows,
    bands: mix.bands,
    backlog: plan.backlog,
    ms: median(runs.map((r) => r.ms)),
    perSec: median(runs.map((r) => r.perSec)),
    firstDispatchMs: median(runs.map((r) => r.firstDispatchMs)),
    loopUtilisation: median(runs.map((r) => r.loopUtilisation)),
    runs: runs.map((r) => Math.round(r.perSec)),
  };
}

export async function runSuite(plan: Plan, log: Log): Promise<SuiteResults> {
  // Global warm-up: JIT the engine (both APIs) and p-queue on every path before anything is measured.
  const warm = makeRequests(20_000, { flows: 1_000, bands: 8 }, 99);
  for (const mode of ['free', 'backlog'] as const) {
    for (const api of ['callback', 'promise'] as const) {
      const setup = engineFor(mode, api, plan.callers, plan.limit);
      await setup.pass(warm);
      await setup.fc.close();
    }
    await pqueueFor(mode, plan.callers, plan.limit)(warm);
  }

  const grid: GridCell[] = [];
  const ratios: FlowCostRatio[] = [];
  let seed = 1;
  for (const mode of ['free', 'backlog'] as const) {
    for (const bands of plan.bands) {
      const row = await gridRow(plan, mode, bands, seed, log);
      seed += plan.flows.length;
      grid.push(...row.cells);
      ratios.push(row.ratio);
      log(`  cost ratio ${mode} bands=${bands}: ${row.ratio.ratio.toFixed(2)}x (pairs ${row.ratio.pairs.map((p) => p.toFixed(2)).join(', ')})`);
    }
  }
  const steadies: SteadySummary[] = [];
  for (const bands of plan.drainBands) {
    const s = await steady(plan, { flows: 10_000, bands }, 400 + bands);
    log(`  steady ${plan.backlog / 1000}k backlog, bands=${bands}: engine ${Math.round(s.engine.steadyPerSec)}/s, p-queue ${Math.round(s.pqueue.steadyPerSec)}/s`);
    steadies.push(s);
  }
  const bursts: BurstSummary[] = [];
  for (const bands of plan.drainBands) {
    const b = await burst(plan, { flows: 10_000, bands }, 100 + bands);
    log(`  100k burst, bands=${bands}: engine ${Math.round(b.engine.perSec)}/s, p-queue ${Math.round(b.pqueue.perSec)}/s`);
    bursts.push(b);
  }
  const drains: DrainSummary[] = [];
  for (const bands of plan.drainBands) {
    const d = await drain(plan, { flows: 10_000, bands }, 200 + bands);
    log(`  drain 100k, bands=${bands}: ${Math.round(d.perSec)}/s`);
    drains.push(d);
  }
  const heap: HeapFigures[] = [];
  for (const flows of plan.heapFlows) {
    for (const api of ['callback', 'promise'] as const) {
      const h = await engineHeap(plan.backlog, { flows, bands: 1 }, 300, api);
      log(`  heap flows=${flows} (${api} API): ${h.engineBytes.toFixed(0)} B/request beyond the request`);
      heap.push(h);
    }
  }
  return { grid, ratios, steady: steadies, burst: bursts, drain: drains, heap };
}
