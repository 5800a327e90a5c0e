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
  readonly api: EngineApi;
  readonly ratio: number;
  readonly pairs: readonly number[];
}

export interface SteadySummary {
  readonly bands: number;
  readonly flows: number;
  /** Callers, hence requests outstanding: the backlog held behind the concurrency limit. */
  readonly backlog: number;
  /** Requests per pass: the engine's and p-queue's (see Plan.steadyExtraRequests). */
  readonly requests: { readonly engine: number; readonly pqueue: number };
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
/** What a burst measurement runs (see burst-child.ts; not imported from there, as importing it would run it). */
type BurstSystem = EngineApi | 'p-queue';

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
 * Every flow count of one (mode, bands). The engine's passes (both APIs, every flow count) are interleaved, so the
 * cost ratio between flow counts compares passes run moments apart (this machine drifts by tens of percent over
 * a minute); p-queue's passes follow, per flow count.
 */
async function gridRow(plan: Plan, mode: Mode, bands: number, seed: number, log: Log): Promise<{ cells: GridCell[]; ratios: FlowCostRatio[] }> {
  const n = mode === 'free' ? plan.freeRequests : plan.backlogRequests;
  const apis = ['callback', 'promise'] as const;
  const setups = plan.flows.map((flows, i) => {
    const requests = makeRequests(n, { flows, bands }, seed + i);
    const engines = apis.map((api) => engineFor(mode, api, plan.callers, plan.limit));
    return { flows, requests, engines, runs: apis.map((): LoopFigures[] => []) };
  });
  for (const s of setups) for (const e of s.engines) await e.pass(warmUp(s.requests));
  for (let r = 0; r < plan.repetitions; r++) {
    for (const s of setups) {
      for (const [a, e] of s.engines.entries()) {
        forceGc();
        s.runs[a]?.push(await e.pass(s.requests));
      }
    }
  }
  const cells: GridCell[] = [];
  for (const s of setups) {
    const liveFlows = s.engines.map((e) => e.fc.stats().liveFlows);
    for (const e of s.engines) await e.fc.close();
    const pqueue = await repeat(pqueueFor(mode, plan.callers, plan.limit), s.requests, plan.repetitions);
    const cell: GridCell = {
      mode,
      flows: s.flows,
      bands,
      callers: plan.callers,
      requests: n,
      touchedTenants: distinctTenants(s.requests),
      liveFlows: Math.max(...liveFlows),
      engine: summarise(s.runs[0] ?? []),
      enginePromise: summarise(s.runs[1] ?? []),
      pqueue,
    };
    log(
      `  ${mode} flows=${s.flows} bands=${bands}: engine ${Math.round(cell.engine.perSec)}/s ` +
        `(Promise API ${Math.round(cell.enginePromise.perSec)}/s), p-queue ${Math.round(pqueue.perSec)}/s`,
    );
    cells.push(cell);
  }
  const lo = setups[0];
  const hi = setups[setups.length - 1];
  const ratios = apis.map((api, a): FlowCostRatio => {
    const pairs = (lo?.runs[a] ?? []).map((x, r) => x.perSec / (hi?.runs[a]?.[r]?.perSec ?? Number.NaN));
    return { mode, bands, api, ratio: median(pairs), pairs };
  });
  return { cells, ratios };
}

/**
 * A closed loop of `plan.backlog` callers behind the concurrency limit: the backlog stays at that size. Each
 * repetition runs the engine (both APIs) and p-queue one after the other; the speedups are medians of the
 * per-repetition ratios, so a slow minute on this shared machine hits both sides of a ratio alike.
 */
async function steady(plan: Plan, mix: Mix, seed: number): Promise<SteadySummary> {
  const requests = makeRequests(plan.backlog + plan.steadyExtraRequests.engine, mix, seed);
  const pqueueRequests = requests.slice(0, plan.backlog + plan.steadyExtraRequests.pqueue);
  const engines = (['callback', 'promise'] as const).map((api) => engineFor('backlog', api, plan.backlog, plan.limit));
  const pqueuePass = pqueueFor('backlog', plan.backlog, plan.limit);
  // Warm-up on a quarter: the engines only (p-queue's passes take seconds; the grid warmed its code).
  for (const e of engines) await e.pass(warmUp(requests));
  const runs = [[], [], []] as LoopFigures[][];
  const passes = [...engines.map((e) => () => e.pass(requests)), () => pqueuePass(pqueueRequests)];
  for (let r = 0; r < plan.steadyRepetitions; r++) {
    for (const [i, pass] of passes.entries()) {
      forceGc();
      runs[i]?.push(await pass());
    }
  }
  for (const e of engines) await e.fc.close();
  const [cb = [], promise = [], pq = []] = runs;
  const paired = (engine: readonly LoopFigures[]): number =>
    median(engine.map((x, r) => x.steadyPerSec / (pq[r]?.steadyPerSec ?? Number.NaN)));
  return {
    bands: mix.bands,
    flows: mix.flows,
    backlog: plan.backlog,
    requests: { engine: requests.length, pqueue: pqueueRequests.length },
    engine: summarise(cb),
    enginePromise: summarise(promise),
    pqueue: summarise(pq),
    speedup: paired(cb),
    speedupPromise: paired(promise),
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
  // A full collection first, so no concurrent marking of this process's large heap competes with the child.
  forceGc();
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
      ratios.push(...row.ratios);
      for (const r of row.ratios) {
        log(`  cost ratio ${mode} bands=${bands} (${r.api} API): ${r.ratio.toFixed(2)}x (pairs ${r.pairs.map((p) => p.toFixed(2)).join(', ')})`);
      }
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
