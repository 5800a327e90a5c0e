// Scenario 5, drain: the pool's metrics are unavailable (every endpoint stale) while a large backlog arrives;
// when metrics return, how fast does each system drain it? Fairway vs the Go defaults' 1 ms tick.
import { type RunOutput } from '../run-system.js';
import {
  type ScenarioContext,
  type ScenarioReport,
  type ScenarioSpec,
  fmt,
  plan,
  runSystems,
  servedTokensPlot,
  systemReport,
  ttftPlot,
  reportHeader,
} from '../scenario.js';

const OUTAGE_MS = 5_000;

export function drainSpec(quick: boolean): ScenarioSpec {
  const backlog = quick ? 10_000 : 30_000;
  const arrivalMs = 2_000;
  return {
    name: 'drain',
    title: 'Drain',
    description: `${backlog} requests (256/64) arrive within ${arrivalMs / 1000} s while the pool's metrics are unavailable (stale) for ${OUTAGE_MS / 1000} s; 32 pods`,
    pods: 32,
    durationMs: arrivalMs,
    seed: 55,
    metricsOutageMs: OUTAGE_MS,
    classes: [
      { name: 'backlog', tenant: 'backlog', priority: 0, ratePerSecond: backlog / (arrivalMs / 1000), promptTokens: 256, maxTokens: 64, sharedPrefixTokens: 64, clientTimeoutMs: 300_000 },
    ],
    settings: { bands: [{ priority: 0, name: 'standard', maxRequests: 100_000, ttlMs: 300_000 }] },
  };
}

function drainFigures(run: RunOutput): Record<string, unknown> {
  const back = run.startMs + OUTAGE_MS;
  let backlog = 0;
  let lastDispatch = back;
  let lastFinish = back;
  let dispatchedAfter = 0;
  for (const r of run.recorder.records.values()) {
    const d = r.dispatchedAtMs;
    if (d === undefined || d >= back) backlog++;
    if (d !== undefined && d >= back) {
      dispatchedAfter++;
      lastDispatch = Math.max(lastDispatch, d);
    }
    if (r.outcome === 'completed' && r.e2eMs !== undefined) lastFinish = Math.max(lastFinish, r.arrivalMs + r.e2eMs);
  }
  const dispatchSec = (lastDispatch - back) / 1000;
  const finishSec = (lastFinish - back) / 1000;
  return {
    backlogWhenMetricsReturn: backlog,
    secondsToEmptyGatewayQueue: dispatchSec,
    dispatchRatePerSec: dispatchSec > 0 ? dispatchedAfter / dispatchSec : null,
    secondsUntilAllCompleted: finishSec,
    drainRatePerSec: finishSec > 0 ? backlog / finishSec : null,
    tickDispatches: run.tickDispatches ?? null,
  };
}

export async function runDrain(ctx: ScenarioContext): Promise<ScenarioReport> {
  const t0 = performance.now();
  const spec = drainSpec(ctx.quick);
  const requests = plan(spec, ctx.hasher);
  const runs = await runSystems(spec, requests);
  const systems = Object.fromEntries([...runs].map(([name, run]) => [name, systemReport(spec, run, drainFigures(run))]));
  const num = (name: string, key: string): number => {
    const v = systems[name]?.extra[key];
    return typeof v === 'number' ? v : Number.NaN;
  };
  const names = [...runs.keys()];
  return {
    ...reportHeader(spec, requests),
    systems,
    references: {},
    targets: [
      {
        name: 'backlog when metrics return (requests not yet sent to a pod)',
        goal: 'report',
        values: Object.fromEntries(names.map((n) => [n, fmt(num(n, 'backlogWhenMetricsReturn'), 0)])),
        pass: undefined,
      },
      {
        name: 'gateway dispatch rate after metrics return (req/s) / seconds to empty the queue',
        goal: 'report vs the 1 ms tick',
        values: Object.fromEntries(names.map((n) => [n, `${fmt(num(n, 'dispatchRatePerSec'), 0)} / ${fmt(num(n, 'secondsToEmptyGatewayQueue'), 2)} s`])),
        pass: undefined,
      },
      {
        name: 'drain rate: backlog / seconds until its last completion (req/s)',
        goal: 'higher than go-defaults',
        values: Object.fromEntries(names.map((n) => [n, `${fmt(num(n, 'drainRatePerSec'), 0)} (${fmt(num(n, 'secondsUntilAllCompleted'), 2)} s)`])),
        pass: num('fairway', 'drainRatePerSec') > num('go-defaults', 'drainRatePerSec'),
      },
    ],
    notes: [
      'During the outage the endpoints are stale: both flow-controlled systems hold every request (fail closed). No flow control does not read saturation: it sends each request on arrival (its scheduler fails open on stale metrics), so its backlog sits in the engines and has a head start; it is shown for completeness.',
      'The band capacity is raised to 100,000 requests and the TTL to 300 s in both flow-controlled systems so that the backlog is held, not shed (an operator expecting such backlogs would do the same).',
    ],
    plots: [servedTokensPlot(spec, runs), ttftPlot(spec, runs)],
    wallMs: Math.round(performance.now() - t0),
  };
}
