// Scenario 1, priority protection: steady interactive traffic (high priority) plus a burst of sheddable batch
// traffic at 3x the pool's capacity. Interactive alone is run too: its unloaded TTFT, measured in the same run.
import { type RunOutput } from '../run-system.js';
import {
  type ScenarioContext,
  type ScenarioReport,
  type ScenarioSpec,
  type SystemReport,
  reportHeader,
  classOf,
  fmt,
  plan,
  runReference,
  runSystems,
  servedTokensPlot,
  systemReport,
  ttftPlot,
} from '../scenario.js';

/** 8 ci pods complete ~223 req/s of 512/128 requests when saturated (measured): ~28 per pod. */
export const POD_CAPACITY_512_128 = 28;
/** Diagnosis variant: the batch band capped at a lower saturation ceiling (an operator's config change). */
const LOW_CEILING = 0.6;
const LOW_NAME = `fairway, batch ceiling ${LOW_CEILING}`;

export function prioritySpec(quick: boolean): ScenarioSpec {
  const pods = 8;
  const burstMs = quick ? 10_000 : 30_000;
  return {
    name: 'priority-protection',
    title: 'Priority protection',
    description: 'interactive (priority 1) at a steady 40 req/s; sheddable batch (priority -1) bursts at 3x pool capacity',
    pods,
    durationMs: burstMs + 10_000,
    seed: 11,
    classes: [
      { name: 'interactive', tenant: 'chat', priority: 1, ratePerSecond: 40, promptTokens: 256, maxTokens: 64, sharedPrefixTokens: 128, clientTimeoutMs: 30_000 },
      {
        name: 'batch',
        tenant: 'batch',
        priority: -1,
        ratePerSecond: 3 * POD_CAPACITY_512_128 * pods,
        promptTokens: 512,
        maxTokens: 128,
        startMs: 5_000,
        stopMs: 5_000 + burstMs,
        clientTimeoutMs: 60_000,
      },
    ],
    settings: {
      bands: [
        { priority: 1, name: 'interactive' },
        { priority: -1, name: 'batch', maxRequests: 2_000, ttlMs: 20_000 },
      ],
    },
  };
}

export async function runPriorityProtection(ctx: ScenarioContext): Promise<ScenarioReport> {
  const t0 = performance.now();
  const spec = prioritySpec(ctx.quick);
  const requests = plan(spec, ctx.hasher);
  const runs = await runSystems(spec, requests);
  const solo = await runReference(spec, 'fairway', requests.filter((r) => r.cls === 'interactive'));
  const lowCeiling = await runReference(spec, 'fairway', requests, {
    ...spec.settings,
    bands: spec.settings.bands.map((b) => (b.priority < 0 ? { ...b, ceiling: LOW_CEILING } : b)),
  });
  const references = new Map<string, RunOutput>([['interactive alone', solo]]);
  const systems = Object.fromEntries([...runs].map(([name, run]) => [name, systemReport(spec, run)]));
  const soloReport = systemReport(spec, solo);
  const variants: Record<string, SystemReport> = { [LOW_NAME]: systemReport(spec, lowCeiling) };
  const soloP99 = classOf(soloReport, 'interactive')?.ttftP99Ms ?? Number.NaN;
  const ratio = (name: string): number => (classOf(systems[name] ?? variants[name] ?? soloReport, 'interactive')?.ttftP99Ms ?? Number.NaN) / soloP99;
  const batchOf = (name: string): string => {
    const b = systems[name] === undefined ? undefined : classOf(systems[name], 'batch');
    if (b === undefined) return 'n/a';
    const shed = Object.entries(b.shed).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
    return `shed ${shed}; with Retry-After ${b.shedWithRetryAfter}; client timeouts ${b.timeouts}`;
  };
  const fb = systems.fairway === undefined ? undefined : classOf(systems.fairway, 'batch');
  const batchPass =
    fb !== undefined &&
    fb.timeouts === 0 &&
    Object.keys(fb.shed).every((k) => k.startsWith('429')) &&
    fb.shedWithRetryAfter === Object.values(fb.shed).reduce((a, b) => a + b, 0);
  return {
    ...reportHeader(spec, requests),
    systems,
    references: { 'interactive alone (fairway)': soloReport, ...variants },
    targets: [
      {
        name: 'interactive TTFT p99 / unloaded p99',
        goal: '<= 1.5',
        values: Object.fromEntries([...runs.keys(), LOW_NAME].map((n): [string, string] => [n, fmt(ratio(n), 2)]).concat([['unloaded p99 ms', fmt(soloP99)]])),
        pass: ratio('fairway') <= 1.5,
      },
      {
        name: 'batch shed with 429 + Retry-After, no client timeouts',
        goal: 'timeouts = 0, every shed is 429 with Retry-After',
        values: Object.fromEntries([...runs.keys()].map((n) => [n, batchOf(n)])),
        pass: batchPass,
      },
    ],
    notes: [
      `"${LOW_NAME}" is a diagnosis run, not a baseline: the same fairway configuration with \`ceiling: ${LOW_CEILING}\` on the batch band.`,
      `Batch offered at ${3 * POD_CAPACITY_512_128 * spec.pods} req/s for ${(spec.classes[1]?.stopMs ?? 0) - (spec.classes[1]?.startMs ?? 0)} ms: 3x the measured saturated capacity of ${spec.pods} ci pods for 512/128 requests.`,
    ],
    plots: [servedTokensPlot(spec, runs), ttftPlot(spec, runs, references)],
    wallMs: Math.round(performance.now() - t0),
  };
}
