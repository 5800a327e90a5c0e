// Scenario 1, priority protection: steady interactive traffic (high priority) plus a burst of sheddable batch
// traffic at 3x the pool's capacity. Interactive alone is run too: its unloaded TTFT, measured in the same run.
// Diagnosis runs show how close each configuration option gets, and what the defaults were before issue 13.
import { Summary } from '../../../src/core/index.js';
import { type FairwayConfigInput } from '../../../src/config/index.js';
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
import { servedTokensBetween } from './tenant-window.js';

/** 8 ci pods complete ~223 req/s of 512/128 requests when saturated (measured): ~28 per pod. */
export const POD_CAPACITY_512_128 = 28;
/** Diagnosis variant: the batch band capped at a lower saturation ceiling (an operator's config change). */
const LOW_CEILING = 0.6;
const LOW_NAME = `fairway, batch ceiling ${LOW_CEILING}`;
/**
 * The shipped defaults before issue 13: no slot limit (queue threshold only), KV at 0.8 without the queued
 * requests' KV, no prefill pacing, no in-flight eviction, no tenant reserve.
 */
export const BEFORE_NAME = 'fairway, defaults before issue 13';
export const BEFORE: FairwayConfigInput = {
  saturation: { options: { learnSlotLimit: false, kvThreshold: 0.8, queuedTokenWeight: 0, maxNumBatchedTokens: 0 } },
  flowControl: { inflightEviction: { enabled: false }, tenantReserve: 0 },
};
const HOLDBACK_NAME = 'fairway + priority-holdback';
const SLOTS_NAME = 'fairway, slotLimit stated (32)';
/** Traffic time over which pool throughput is compared: the batch burst, after its first second. */
const WINDOW = [6_000, 15_000] as const;

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

/** p99 of the time from an engine admitting a request to its first token: the engine's own step time. */
function admitToFirstTokenP99(run: RunOutput, cls: string): number {
  const s = new Summary();
  for (const r of run.recorder.records.values()) {
    if (r.cls === cls && r.outcome === 'completed' && r.ttftMs !== undefined && r.admittedAtMs !== undefined) {
      s.add(r.arrivalMs + r.ttftMs - r.admittedAtMs);
    }
  }
  return s.percentile(99);
}

export async function runPriorityProtection(ctx: ScenarioContext): Promise<ScenarioReport> {
  const t0 = performance.now();
  const spec = prioritySpec(ctx.quick);
  const requests = plan(spec, ctx.hasher);
  const runs = await runSystems(spec, requests);
  const solo = await runReference(spec, 'fairway', requests.filter((r) => r.cls === 'interactive'));
  const variant = (configOverrides: FairwayConfigInput, bands = spec.settings.bands): Promise<RunOutput> =>
    runReference(spec, 'fairway', requests, { ...spec.settings, bands, configOverrides });
  const variantRuns = new Map<string, RunOutput>([
    [BEFORE_NAME, await variant(BEFORE)],
    [HOLDBACK_NAME, await variant({ flowControl: { usageLimit: { name: 'priority-holdback' } } })],
    [SLOTS_NAME, await variant({ saturation: { options: { slotLimit: 32 } } })],
    [LOW_NAME, await variant({}, spec.settings.bands.map((b) => (b.priority < 0 ? { ...b, ceiling: LOW_CEILING } : b)))],
  ]);
  const references = new Map<string, RunOutput>([['interactive alone', solo], [BEFORE_NAME, variantRuns.get(BEFORE_NAME) as RunOutput]]);
  const systems = Object.fromEntries([...runs].map(([name, run]) => [name, systemReport(spec, run)]));
  const soloReport = systemReport(spec, solo);
  const variants: Record<string, SystemReport> = Object.fromEntries([...variantRuns].map(([name, run]) => [name, systemReport(spec, run)]));
  const allRuns = new Map<string, RunOutput>([...runs, ...variantRuns]);
  const names = [...allRuns.keys()];
  const soloP99 = classOf(soloReport, 'interactive')?.ttftP99Ms ?? Number.NaN;
  const ratio = (name: string): number => (classOf(systems[name] ?? variants[name] ?? soloReport, 'interactive')?.ttftP99Ms ?? Number.NaN) / soloP99;
  const baseline = runs.get('no-flow-control');
  const served = (name: string): number => {
    const run = allRuns.get(name);
    return run === undefined || baseline === undefined ? Number.NaN : servedTokensBetween(run, ...WINDOW) / servedTokensBetween(baseline, ...WINDOW);
  };
  const batchOf = (name: string): string => {
    const b = systems[name] === undefined ? undefined : classOf(systems[name], 'batch');
    if (b === undefined) return 'n/a';
    const shed = Object.entries(b.shed).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
    return `shed ${shed}; with Retry-After ${b.shedWithRetryAfter}; client timeouts ${b.timeouts}`;
  };
  const fb = systems.fairway === undefined ? undefined : classOf(systems.fairway, 'batch');
  // A stream already started when its request was evicted is ended with an error event: no status, no Retry-After.
  const answered = fb === undefined ? 0 : Object.entries(fb.shed).filter(([k]) => k.startsWith('429')).reduce((a, [, v]) => a + v, 0);
  const batchPass =
    fb !== undefined &&
    fb.timeouts === 0 &&
    Object.keys(fb.shed).every((k) => k.startsWith('429') || k === 'stream ended: evicted') &&
    fb.shedWithRetryAfter === answered;
  return {
    ...reportHeader(spec, requests),
    systems,
    references: { 'interactive alone (fairway)': soloReport, ...variants },
    targets: [
      {
        name: 'interactive TTFT p99 / unloaded p99',
        goal: '<= 1.5',
        values: Object.fromEntries(names.map((n): [string, string] => [n, fmt(ratio(n), 2)]).concat([['unloaded p99 ms', fmt(soloP99)]])),
        pass: ratio('fairway') <= 1.5,
      },
      {
        name: `served tokens, traffic time ${WINDOW[0] / 1000}-${WINDOW[1] / 1000} s, / no-flow-control`,
        goal: '>= 0.95',
        values: Object.fromEntries(names.map((n): [string, string] => [n, fmt(served(n), 3)])),
        pass: served('fairway') >= 0.95,
      },
      {
        name: 'interactive: engine admission to first token, p99 ms (the step time batch prefills set; unloaded in the last column)',
        goal: 'report',
        values: Object.fromEntries(names.map((n): [string, string] => [n, fmt(admitToFirstTokenP99(allRuns.get(n) as RunOutput, 'interactive'))]).concat([['unloaded p99 ms', fmt(admitToFirstTokenP99(solo, 'interactive'))]])),
        pass: undefined,
      },
      {
        name: 'batch shed with 429 + Retry-After (streams evicted mid-way end with an error event), no client timeouts',
        goal: 'timeouts = 0, every answer is 429 with Retry-After',
        values: Object.fromEntries([...runs.keys()].map((n) => [n, batchOf(n)])),
        pass: batchPass,
      },
    ],
    notes: [
      `Diagnosis runs, not baselines: "${BEFORE_NAME}" (\`learnSlotLimit: false, kvThreshold: 0.8, queuedTokenWeight: 0, maxNumBatchedTokens: 0\`, in-flight eviction off, \`tenantReserve: 0\`), "${HOLDBACK_NAME}" (\`usageLimit: priority-holdback\`), "${SLOTS_NAME}" (\`saturation.options.slotLimit: 32\`, the servers' max_num_seqs stated instead of learned), "${LOW_NAME}" (\`ceiling: ${LOW_CEILING}\` on the batch band).`,
      `Batch offered at ${3 * POD_CAPACITY_512_128 * spec.pods} req/s for ${(spec.classes[1]?.stopMs ?? 0) - (spec.classes[1]?.startMs ?? 0)} ms: 3x the measured saturated capacity of ${spec.pods} ci pods for 512/128 requests.`,
    ],
    plots: [servedTokensPlot(spec, runs), ttftPlot(spec, runs, references)],
    wallMs: Math.round(performance.now() - t0),
  };
}
