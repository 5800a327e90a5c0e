// Turns the suite's figures into the verdicts against issue 2's targets and the markdown tables printed.
import { type Plan, TARGETS } from './plan.js';
import { type GridCell, type Mode, type SuiteResults } from './suite.js';

export interface Verdict {
  readonly target: string;
  readonly goal: string;
  readonly measured: string;
  readonly value: number;
  readonly pass: boolean;
}

const k = (perSec: number): string => `${(perSec / 1000).toFixed(0)}k/s`;
const us = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(0)} ms` : `${x.toFixed(1)} us`);

function cell(results: SuiteResults, mode: Mode, flows: number, bands: number): GridCell | undefined {
  return results.grid.find((c) => c.mode === mode && c.flows === flows && c.bands === bands);
}

function worst(values: readonly number[], higherIsBetter: boolean): number {
  if (values.length === 0) return Number.NaN;
  return higherIsBetter ? Math.min(...values) : Math.max(...values);
}

/** Cost per dispatch at the largest flow count over the smallest, for each mode and band count. */
export function flowCostRatios(results: SuiteResults, plan: Plan): { mode: Mode; bands: number; ratio: number }[] {
  const lo = Math.min(...plan.flows);
  const hi = Math.max(...plan.flows);
  const out: { mode: Mode; bands: number; ratio: number }[] = [];
  for (const mode of ['free', 'backlog'] as const) {
    for (const bands of plan.bands) {
      const a = cell(results, mode, lo, bands);
      const b = cell(results, mode, hi, bands);
      if (a !== undefined && b !== undefined) out.push({ mode, bands, ratio: a.engine.perSec / b.engine.perSec });
    }
  }
  return out;
}

export function verdicts(results: SuiteResults, plan: Plan): Verdict[] {
  const at10k = (mode: Mode): number[] =>
    plan.bands.map((b) => cell(results, mode, 10_000, b)?.engine.perSec ?? Number.NaN);
  const free = worst(at10k('free'), true);
  const backlog = worst(at10k('backlog'), true);
  const ratio = worst(flowCostRatios(results, plan).map((r) => r.ratio), false);
  const speedup = worst(results.burst.map((b) => b.speedup), true);
  const heap = worst(results.heap.map((h) => h.engineBytes), false);
  const firstMs = worst(results.drain.map((d) => d.firstDispatchMs), false);
  const elu = worst(results.drain.map((d) => d.loopUtilisation), true);
  const drainRate = worst(results.drain.map((d) => d.perSec), true);
  return [
    { target: 'free flow, 10k flows (worst of bands)', goal: `>= ${k(TARGETS.freePerSec)}`, measured: k(free), value: free, pass: free >= TARGETS.freePerSec },
    { target: `backlog (limit ${plan.limit}), 10k flows (worst of bands)`, goal: `>= ${k(TARGETS.backlogPerSec)}`, measured: k(backlog), value: backlog, pass: backlog >= TARGETS.backlogPerSec },
    { target: 'cost per dispatch, 100k flows / 10 flows (worst)', goal: `<= ${TARGETS.flowCostRatio}x`, measured: `${ratio.toFixed(2)}x`, value: ratio, pass: ratio <= TARGETS.flowCostRatio },
    { target: `engine / p-queue at a ${plan.backlog / 1000}k backlog (worst of bands)`, goal: `>= ${TARGETS.pqueueSpeedup}x`, measured: `${speedup.toFixed(1)}x`, value: speedup, pass: speedup >= TARGETS.pqueueSpeedup },
    { target: 'heap per queued request beyond the request (worst of flows)', goal: `<= ${TARGETS.heapBytes} B`, measured: `${heap.toFixed(0)} B`, value: heap, pass: heap <= TARGETS.heapBytes },
    {
      target: `${plan.backlog / 1000}k backlog drains as fast as the gate opens`,
      goal: `1st dispatch <= ${TARGETS.drainFirstDispatchMs} ms, loop busy >= ${TARGETS.drainLoopUtilisation * 100}%`,
      measured: `1st ${firstMs.toFixed(2)} ms, busy ${(elu * 100).toFixed(0)}%, ${k(drainRate)}`,
      value: elu,
      pass: firstMs <= TARGETS.drainFirstDispatchMs && elu >= TARGETS.drainLoopUtilisation,
    },
  ];
}

export function markdown(results: SuiteResults, plan: Plan, verdictList: readonly Verdict[], machine: string): string {
  const lines: string[] = [];
  const add = (s = ''): void => {
    lines.push(s);
  };
  add(`### Flow-control engine (${machine}; median of ${plan.repetitions} runs${plan.quick ? ', --quick' : ''})`);
  add();
  add(`Closed loop, ${plan.callers} concurrent callers, Zipf tenants; backlog = concurrency limit ${plan.limit}, leases released next turn.`);
  add();
  add('| mode | flows | bands | engine disp/s | engine p50 | engine p99 | p-queue disp/s | p-queue p50 | p-queue p99 | engine / p-queue |');
  add('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of results.grid) {
    add(
      `| ${c.mode} | ${c.flows} | ${c.bands} | ${k(c.engine.perSec)} | ${us(c.engine.p50Us)} | ${us(c.engine.p99Us)} | ` +
        `${k(c.pqueue.perSec)} | ${us(c.pqueue.p50Us)} | ${us(c.pqueue.p99Us)} | ${(c.engine.perSec / c.pqueue.perSec).toFixed(2)}x |`,
    );
  }
  add();
  add(`${plan.backlog / 1000}k backlog pushed at once, concurrency ${plan.limit}, each task done next turn (10k flows):`);
  add();
  add('| bands | engine push ms | engine total ms | engine disp/s | p-queue push ms | p-queue total ms | p-queue disp/s | engine / p-queue |');
  add('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const b of results.burst) {
    add(
      `| ${b.bands} | ${b.engine.enqueueMs.toFixed(0)} | ${b.engine.ms.toFixed(0)} | ${k(b.engine.perSec)} | ` +
        `${b.pqueue.enqueueMs.toFixed(0)} | ${b.pqueue.ms.toFixed(0)} | ${k(b.pqueue.perSec)} | ${b.speedup.toFixed(1)}x |`,
    );
  }
  add();
  add(`Drain: ${plan.backlog / 1000}k queued behind a closed gate, gate opened at once (10k flows):`);
  add();
  add('| bands | drain ms | disp/s | first dispatch ms | event loop busy |');
  add('|---:|---:|---:|---:|---:|');
  for (const d of results.drain) {
    add(`| ${d.bands} | ${d.ms.toFixed(0)} | ${k(d.perSec)} | ${d.firstDispatchMs.toFixed(2)} | ${(d.loopUtilisation * 100).toFixed(0)}% |`);
  }
  add();
  add(`Heap with ${plan.backlog / 1000}k requests queued (gate closed, 1 band), bytes per request:`);
  add();
  add('| flows | live flows | request object | queued total | beyond the request |');
  add('|---:|---:|---:|---:|---:|');
  for (const h of results.heap) {
    add(`| ${h.flows} | ${h.liveFlows} | ${h.requestBytes.toFixed(0)} | ${h.queuedBytes.toFixed(0)} | ${h.engineBytes.toFixed(0)} |`);
  }
  add();
  add('Cost per dispatch, 100k flows / 10 flows: ' + flowCostRatios(results, plan).map((r) => `${r.mode} bands ${r.bands}: ${r.ratio.toFixed(2)}x`).join('; '));
  add();
  add('| target | goal | measured | |');
  add('|---|---|---|---|');
  for (const v of verdictList) add(`| ${v.target} | ${v.goal} | ${v.measured} | ${v.pass ? 'PASS' : 'MISS'} |`);
  return lines.join('\n');
}
