// Scenario 4, burst herding: 500 requests at the same instant onto 8 pods. Reports the spread of per-pod load
// (requests routed per pod in total and within the first scrape interval, peak concurrent per pod) and TTFT.
import { SCRAPE_INTERVAL_MS } from '../sim-pool.js';
import { type RunOutput } from '../run-system.js';
import {
  type ScenarioContext,
  type ScenarioReport,
  type ScenarioSpec,
  classOf,
  fmt,
  plan,
  runSystems,
  servedTokensPlot,
  systemReport,
  ttftPlot,
  reportHeader,
} from '../scenario.js';
import { type Spread, spread } from '../summary.js';

export function herdingSpec(quick: boolean): ScenarioSpec {
  const burst = quick ? 500 : 2_000;
  return {
    name: 'burst-herding',
    title: 'Burst herding',
    description: `${burst} requests (512/128) arrive at the same instant onto 8 idle pods`,
    pods: 8,
    durationMs: 1_000,
    seed: 44,
    classes: [
      { name: 'burst', tenant: 'burst', priority: 0, ratePerSecond: 0, burst, promptTokens: 512, maxTokens: 128, sharedPrefixTokens: 64, clientTimeoutMs: 60_000 },
    ],
    settings: { bands: [{ priority: 0, name: 'standard' }] },
  };
}

function perPod(run: RunOutput, pods: number, pick: (id: string) => number): number[] {
  return Array.from({ length: pods }, (_, i) => pick(`pod-${i}:8000`));
}

export async function runBurstHerding(ctx: ScenarioContext): Promise<ScenarioReport> {
  const t0 = performance.now();
  const spec = herdingSpec(ctx.quick);
  const requests = plan(spec, ctx.hasher);
  const runs = await runSystems(spec, requests);
  const figures = (run: RunOutput): Record<string, unknown> => {
    const firstWave = new Map<string, number>();
    for (const r of run.recorder.records.values()) {
      if (r.endpoint !== undefined && r.dispatchedAtMs !== undefined && r.dispatchedAtMs < run.startMs + SCRAPE_INTERVAL_MS) {
        firstWave.set(r.endpoint, (firstWave.get(r.endpoint) ?? 0) + 1);
      }
    }
    const wave = perPod(run, spec.pods, (id) => firstWave.get(id) ?? 0);
    const total = perPod(run, spec.pods, (id) => run.recorder.dispatchesPerPod.get(id) ?? 0);
    const peak = perPod(run, spec.pods, (id) => run.recorder.peakInflightPerPod.get(id) ?? 0);
    return {
      firstScrapeIntervalPerPod: wave,
      firstScrapeInterval: spread(wave),
      totalPerPod: total,
      total: spread(total),
      peakConcurrentPerPod: peak,
      peakConcurrent: spread(peak),
    };
  };
  const systems = Object.fromEntries([...runs].map(([name, run]) => [name, systemReport(spec, run, figures(run))]));
  const names = [...runs.keys()];
  const s = (name: string, key: string): Spread | undefined => systems[name]?.extra[key] as Spread | undefined;
  const show = (x: Spread | undefined): string => (x === undefined ? 'n/a' : `max ${x.max} / min ${x.min}, CV ${fmt(x.cv, 2)}`);
  const p99 = (name: string): number => (systems[name] === undefined ? Number.NaN : (classOf(systems[name], 'burst')?.ttftP99Ms ?? Number.NaN));
  return {
    ...reportHeader(spec, requests),
    systems,
    references: {},
    targets: [
      {
        name: `routed in the first ${SCRAPE_INTERVAL_MS} ms (one scrape interval), per pod`,
        goal: 'report (even spread)',
        values: Object.fromEntries(names.map((n) => [n, show(s(n, 'firstScrapeInterval'))])),
        pass: undefined,
      },
      {
        name: 'peak concurrent requests per pod (sent by the gateway, not finished)',
        goal: 'report (<= 32 slots per pod)',
        values: Object.fromEntries(names.map((n) => [n, show(s(n, 'peakConcurrent'))])),
        pass: undefined,
      },
      {
        name: 'total routed per pod',
        goal: 'report',
        values: Object.fromEntries(names.map((n) => [n, show(s(n, 'total'))])),
        pass: undefined,
      },
      {
        name: 'TTFT p99 ms (fairway vs baselines)',
        goal: 'report (lower is better)',
        values: Object.fromEntries(names.map((n) => [n, fmt(p99(n))])),
        pass: undefined,
      },
    ],
    notes: ['The issue sets no numeric target for herding; these rows are reported, not judged.'],
    plots: [servedTokensPlot(spec, runs), ttftPlot(spec, runs)],
    wallMs: Math.round(performance.now() - t0),
  };
}
