// Runs every measurement of the engine benchmark (engine and p-queue side by side) and returns raw figures:
// the closed-loop grid (free flow and backlog x flows x bands), the 100k-backlog burst, the drain, the heap.
import PQueue from 'p-queue';
import { type FlowController, type FlowRequest } from '../../src/flowcontrol/index.js';
import { type CallerFactory, type LoopFigures, closedLoop } from './closed-loop.js';
import { type BurstFigures, type DrainFigures, type HeapFigures, engineBurst, engineCallers, engineDrain, engineHeap, newController } from './engine.js';
import { type Plan } from './plan.js';
import { pqueueBurst, pqueueCallers } from './pqueue.js';
import { type Mix, distinctTenants, makeRequests } from './requests.js';
import { ConcurrencyLimitSaturation, FreeSaturation } from './saturation.js';
import { forceGc, median } from './stats.js';

export type Mode = 'free' | 'backlog';

export interface LoopSummary {
  /** Medians over the repetitions. */
  readonly perSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
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
  readonly engine: LoopSummary;
  readonly pqueue: LoopSummary;
}

export interface BurstSummary {
  readonly bands: number;
  readonly flows: number;
  readonly backlog: number;
  readonly engine: BurstFigures & { readonly runs: readonly number[] };
  readonly pqueue: BurstFigures & { readonly runs: readonly number[] };
  readonly speedup: number;
}

export interface DrainSummary extends DrainFigures {
  readonly flows: number;
  readonly bands: number;
  readonly runs: readonly number[];
}

export interface SuiteResults {
  readonly grid: readonly GridCell[];
  readonly burst: readonly BurstSummary[];
  readonly drain: readonly DrainSummary[];
  readonly heap: readonly HeapFigures[];
}

type Log = (line: string) => void;

function summarise(runs: readonly LoopFigures[]): LoopSummary {
  return {
    perSec: median(runs.map((r) => r.perSec)),
    p50Us: median(runs.map((r) => r.p50Us)),
    p99Us: median(runs.map((r) => r.p99Us)),
    runs: runs.map((r) => Math.round(r.perSec)),
  };
}

/** One warm-up pass on a quarter of the requests, then `repetitions` measured passes over all of them. */
async function repeatLoop(plan: Plan, requests: readonly FlowRequest[], callers: CallerFactory): Promise<LoopSummary> {
  await closedLoop(requests.slice(0, Math.max(1, requests.length >> 2)), plan.callers, callers);
  const runs: LoopFigures[] = [];
  for (let r = 0; r < plan.repetitions; r++) {
    forceGc();
    runs.push(await closedLoop(requests, plan.callers, callers));
  }
  return summarise(runs);
}

function engineFor(mode: Mode, plan: Plan): { fc: FlowController; callers: CallerFactory } {
  if (mode === 'free') {
    const fc = newController(new FreeSaturation());
    return { fc, callers: engineCallers(fc, undefined) };
  }
  const limit = new ConcurrencyLimitSaturation(plan.limit);
  const fc = newController(limit);
  return { fc, callers: engineCallers(fc, limit) };
}

async function gridCell(plan: Plan, mode: Mode, mix: Mix, seed: number): Promise<GridCell> {
  const requests = makeRequests(mode === 'free' ? plan.freeRequests : plan.backlogRequests, mix, seed);
  const { fc, callers } = engineFor(mode, plan);
  const engine = await repeatLoop(plan, requests, callers);
  const liveFlows = fc.stats().liveFlows;
  await fc.close();
  const queue = new PQueue({ concurrency: mode === 'free' ? Infinity : plan.limit });
  const pqueue = await repeatLoop(plan, requests, pqueueCallers(queue));
  return {
    mode,
    flows: mix.flows,
    bands: mix.bands,
    callers: plan.callers,
    requests: requests.length,
    touchedTenants: distinctTenants(requests),
    liveFlows,
    engine,
    pqueue,
  };
}

async function burst(plan: Plan, mix: Mix, seed: number): Promise<BurstSummary> {
  const requests = makeRequests(plan.backlog, mix, seed);
  await engineBurst(requests.slice(0, plan.backlog >> 3), plan.limit); // warm-up
  const engineRuns: BurstFigures[] = [];
  const pqueueRuns: BurstFigures[] = [];
  for (let r = 0; r < plan.burstRepetitions; r++) {
    forceGc();
    engineRuns.push(await engineBurst(requests, plan.limit));
    forceGc();
    pqueueRuns.push(await pqueueBurst(requests, plan.limit));
  }
  const pick = (runs: readonly BurstFigures[]): BurstFigures & { runs: number[] } => ({
    requests: plan.backlog,
    enqueueMs: median(runs.map((r) => r.enqueueMs)),
    ms: median(runs.map((r) => r.ms)),
    perSec: median(runs.map((r) => r.perSec)),
    runs: runs.map((r) => Math.round(r.perSec)),
  });
  const engine = pick(engineRuns);
  const pqueue = pick(pqueueRuns);
  return { bands: mix.bands, flows: mix.flows, backlog: plan.backlog, engine, pqueue, speedup: engine.perSec / pqueue.perSec };
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
  // Global warm-up: JIT both engines on every path before anything is measured.
  const warm = makeRequests(20_000, { flows: 1_000, bands: 8 }, 99);
  for (const mode of ['free', 'backlog'] as const) {
    const { fc, callers } = engineFor(mode, plan);
    await closedLoop(warm, plan.callers, callers);
    await fc.close();
    await closedLoop(warm, plan.callers, pqueueCallers(new PQueue({ concurrency: mode === 'free' ? Infinity : plan.limit })));
  }

  const grid: GridCell[] = [];
  let seed = 1;
  for (const mode of ['free', 'backlog'] as const) {
    for (const flows of plan.flows) {
      for (const bands of plan.bands) {
        const cell = await gridCell(plan, mode, { flows, bands }, seed++);
        log(`  ${mode} flows=${flows} bands=${bands}: engine ${Math.round(cell.engine.perSec)}/s, p-queue ${Math.round(cell.pqueue.perSec)}/s`);
        grid.push(cell);
      }
    }
  }
  const bursts: BurstSummary[] = [];
  for (const bands of plan.drainBands) {
    const b = await burst(plan, { flows: 10_000, bands }, 100 + bands);
    log(`  100k backlog, bands=${bands}: engine ${Math.round(b.engine.perSec)}/s, p-queue ${Math.round(b.pqueue.perSec)}/s`);
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
    const h = await engineHeap(plan.backlog, { flows, bands: 1 }, 300);
    log(`  heap flows=${flows}: ${h.engineBytes.toFixed(0)} B/request beyond the request`);
    heap.push(h);
  }
  return { grid, burst: bursts, drain: drains, heap };
}
