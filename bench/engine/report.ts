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

/** "612k/s (enqueueAndWait 540k/s)": the engine's figure through `enqueue`, with the Promise API's beside it. */
const both = (callback: number, promise: number, fmt: (x: number) => string): string => `${fmt(callback)} (enqueueAndWait ${fmt(promise)})`;
const times = (x: number): string => `${x.toFixed(1)}x`;

/**
 * Verdicts are judged on the engine's own cost, through `enqueue`; the Promise API's figure is printed beside
 * each (it adds a Promise, its resolvers and an async resumption per request, paid by p-queue's callers too).
 */
export function verdicts(results: SuiteResults, plan: Plan): Verdict[] {
  const at10k = (mode: Mode, pick: (c: GridCell) => number): number =>
    worst(plan.bands.map((b) => {
      const c = cell(results, mode, 10_000, b);
      return c === undefined ? Number.NaN : pick(c);
    }), true);
  const free = at10k('free', (c) => c.engine.perSec);
  const freeP = at10k('free', (c) => c.enginePromise.perSec);
  const backlog = at10k('backlog', (c) => c.engine.perSec);
  const backlogP = at10k('backlog', (c) => c.enginePromise.perSec);
  const ratio = worst(results.ratios.filter((r) => r.api === 'callback').map((r) => r.ratio), false);
  const ratioP = worst(results.ratios.filter((r) => r.api === 'promise').map((r) => r.ratio), false);
  const steady = worst(results.steady.map((x) => x.speedup), true);
  const steadyP = worst(results.steady.map((x) => x.speedupPromise), true);
  const burst = worst(results.burst.map((b) => b.speedup), true);
  const burstP = worst(results.burst.map((b) => b.speedupPromise), true);
  const heap = worst(results.heap.map((h) => h.engineBytes), false);
  const firstMs = worst(results.drain.map((d) => d.firstDispatchMs), false);
  const elu = worst(results.drain.map((d) => d.loopUtilisation), true);
  const drainRate = worst(results.drain.map((d) => d.perSec), true);
  const backlogK = plan.backlog / 1000;
  return [
    { target: 'free flow, 10k flows (worst of bands)', goal: `>= ${k(TARGETS.freePerSec)}`, measured: both(free, freeP, k), value: free, pass: free >= TARGETS.freePerSec },
    { target: `backlog (limit ${plan.limit}), 10k flows (worst of bands)`, goal: `>= ${k(TARGETS.backlogPerSec)}`, measured: both(backlog, backlogP, k), value: backlog, pass: backlog >= TARGETS.backlogPerSec },
    { target: 'cost per dispatch, 100k flows / 10 flows (worst of modes and bands; median of interleaved pairs)', goal: `<= ${TARGETS.flowCostRatio}x`, measured: both(ratio, ratioP, (x) => `${x.toFixed(2)}x`), value: ratio, pass: ratio <= TARGETS.flowCostRatio },
    { target: `engine / p-queue at a steady ${backlogK}k backlog (worst of bands)`, goal: `>= ${TARGETS.pqueueSpeedup}x`, measured: both(steady, steadyP, times), value: steady, pass: steady >= TARGETS.pqueueSpeedup },
    { target: `engine / p-queue clearing a ${backlogK}k burst pushed at once (worst of bands)`, goal: `>= ${TARGETS.pqueueSpeedup}x`, measured: both(burst, burstP, times), value: burst, pass: burst >= TARGETS.pqueueSpeedup },
    { target: 'heap per queued request beyond the request (worst of flows and APIs)', goal: `<= ${TARGETS.heapBytes} B`, measured: `${heap.toFixed(0)} B`, value: heap, pass: heap <= TARGETS.heapBytes },
    {
      target: `${backlogK}k backlog drains as fast as the gate opens`,
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
  add('Engine through `enqueue` (callback) and `enqueueAndWait` (Promise); p-queue through `add` (Promise).');
  add();
  add('| mode | flows | bands | enqueue disp/s | p50 | p99 | enqueueAndWait disp/s | p50 | p99 | p-queue disp/s | p50 | p99 | enqueue / p-queue |');
  add('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of results.grid) {
    const e = c.engine;
    const p = c.enginePromise;
    const q = c.pqueue;
    add(
      `| ${c.mode} | ${c.flows} | ${c.bands} | ${k(e.perSec)} | ${us(e.p50Us)} | ${us(e.p99Us)} | ${k(p.perSec)} | ${us(p.p50Us)} | ${us(p.p99Us)} | ` +
        `${k(q.perSec)} | ${us(q.p50Us)} | ${us(q.p99Us)} | ${(e.perSec / q.perSec).toFixed(2)}x |`,
    );
  }
  add();
  add('Cost per dispatch, 100k flows / 10 flows (median of interleaved pairs of passes):');
  add();
  add('| mode | bands | API | ratio | pairs |');
  add('|---|---:|---|---:|---|');
  for (const r of results.ratios) {
    const api = r.api === 'callback' ? 'enqueue' : 'enqueueAndWait';
    add(`| ${r.mode} | ${r.bands} | ${api} | ${r.ratio.toFixed(2)}x | ${r.pairs.map((p) => p.toFixed(2)).join(', ')} |`);
  }
  add();
  add(`Steady ${plan.backlog / 1000}k backlog: ${plan.backlog / 1000}k callers behind concurrency ${plan.limit} (10k flows); rate while every caller has a request out:`);
  add();
  add('| bands | enqueue disp/s | enqueueAndWait disp/s | p-queue disp/s | enqueue / p-queue | enqueueAndWait / p-queue |');
  add('|---:|---:|---:|---:|---:|---:|');
  for (const x of results.steady) {
    add(
      `| ${x.bands} | ${k(x.engine.steadyPerSec)} | ${k(x.enginePromise.steadyPerSec)} | ${k(x.pqueue.steadyPerSec)} | ` +
        `${x.speedup.toFixed(1)}x | ${x.speedupPromise.toFixed(1)}x |`,
    );
  }
  add();
  add(`${plan.backlog / 1000}k burst pushed at once, concurrency ${plan.limit}, each task done next turn (10k flows); push ms / total ms:`);
  add();
  add('| bands | enqueue push / total ms | enqueueAndWait push / total ms | p-queue push / total ms | enqueue / p-queue | enqueueAndWait / p-queue |');
  add('|---:|---:|---:|---:|---:|---:|');
  const pt = (b: { enqueueMs: number; ms: number }): string => `${b.enqueueMs.toFixed(0)} / ${b.ms.toFixed(0)}`;
  for (const b of results.burst) {
    add(`| ${b.bands} | ${pt(b.engine)} | ${pt(b.enginePromise)} | ${pt(b.pqueue)} | ${b.speedup.toFixed(1)}x | ${b.speedupPromise.toFixed(1)}x |`);
  }
  add();
  add(`Drain: ${plan.backlog / 1000}k queued behind a closed gate (\`enqueue\`), gate opened at once (10k flows):`);
  add();
  add('| bands | drain ms | disp/s | first dispatch ms | event loop busy |');
  add('|---:|---:|---:|---:|---:|');
  for (const d of results.drain) {
    add(`| ${d.bands} | ${d.ms.toFixed(0)} | ${k(d.perSec)} | ${d.firstDispatchMs.toFixed(2)} | ${(d.loopUtilisation * 100).toFixed(0)}% |`);
  }
  add();
  add(`Heap with ${plan.backlog / 1000}k requests queued (gate closed, 1 band), bytes per request:`);
  add();
  add('| API | flows | live flows | request object | queued total | beyond the request |');
  add('|---|---:|---:|---:|---:|---:|');
  for (const h of results.heap) {
    const api = h.api === 'callback' ? 'enqueue' : 'enqueueAndWait';
    add(`| ${api} | ${h.flows} | ${h.liveFlows} | ${h.requestBytes.toFixed(0)} | ${h.queuedBytes.toFixed(0)} | ${h.engineBytes.toFixed(0)} |`);
  }
  add();
  add('| target | goal | measured | |');
  add('|---|---|---|---|');
  for (const v of verdictList) add(`| ${v.target} | ${v.goal} | ${v.measured} | ${v.pass ? 'PASS' : 'MISS'} |`);
  return lines.join('\n');
}
