// Scenario 2, noisy tenant: tenant A sends ten times B's request rate with 4x longer prompts, equal weights.
// B alone is run too (its solo TTFT, in the same run).
import { Summary } from '../../../src/core/index.js';
import { weightedJain, maxMinJain } from '../jain.js';
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
  ttlOnlyShedding,
} from '../scenario.js';
import { BEFORE, BEFORE_NAME } from './priority-protection.js';
import { backloggedBuckets, bucketsBetween, offeredTokens, servedInBuckets, servedTokensBetween } from './tenant-window.js';

const WARM_MS = 3_000;
const TENANTS = ['tenant-a', 'tenant-b'] as const;
/** Diagnosis variant: fairway with the band's queue capacity lifted, so requests are shed by TTL only. */
const TTL_ONLY = 'fairway, capacity not binding';
const KV80 = 'fairway, kvThreshold 0.8';
const SLOTS_NAME = 'fairway, slotLimit stated (32)';
const NO_RESERVE = 'fairway, tenantReserve 0';
const NO_PACING = 'fairway, prefill pacing off';

export function noisySpec(quick: boolean): ScenarioSpec {
  const durationMs = quick ? 20_000 : 60_000;
  return {
    name: 'noisy-tenant',
    title: 'Noisy tenant',
    description:
      'tenant A at 480 req/s with 1,024-token prompts (~3x the pool) and tenant B at 48 req/s with 256-token prompts (~8% of the pool), equal weights, one band',
    pods: 8,
    durationMs,
    seed: 22,
    classes: [
      { name: 'tenant-a (noisy)', tenant: 'tenant-a', priority: 0, ratePerSecond: 480, promptTokens: 1_024, maxTokens: 128, clientTimeoutMs: 30_000 },
      { name: 'tenant-b', tenant: 'tenant-b', priority: 0, ratePerSecond: 48, promptTokens: 256, maxTokens: 64, sharedPrefixTokens: 64, clientTimeoutMs: 30_000 },
    ],
    settings: { bands: [{ priority: 0, name: 'standard', maxRequests: 2_000, ttlMs: 20_000 }] },
  };
}

export async function runNoisyTenant(ctx: ScenarioContext): Promise<ScenarioReport> {
  const t0 = performance.now();
  const spec = noisySpec(ctx.quick);
  const requests = plan(spec, ctx.hasher);
  const runs = await runSystems(spec, requests);
  const solo = await runReference(spec, 'fairway', requests.filter((r) => r.tenant === 'tenant-b'));
  const soloReport = systemReport(spec, solo);
  const soloB = classOf(soloReport, 'tenant-b');
  const weights = [1, 1];
  const offered = offeredTokens(requests, TENANTS, WARM_MS, spec.durationMs);
  const fairness = (run: RunOutput): Record<string, unknown> => {
    const both = backloggedBuckets(run, TENANTS, WARM_MS, spec.durationMs);
    const servedBoth = servedInBuckets(run, TENANTS, both);
    const window = bucketsBetween(run, WARM_MS, spec.durationMs);
    const served = servedInBuckets(run, TENANTS, window);
    return {
      windowSeconds: window.length,
      bothBackloggedSeconds: both.length,
      jainWhileBothBacklogged: both.length > 0 ? weightedJain(servedBoth, weights) : null,
      servedTokensInWindow: Object.fromEntries(TENANTS.map((t, i) => [t, served[i]])),
      offeredTokensInWindow: Object.fromEntries(TENANTS.map((t, i) => [t, offered[i]])),
      jainMaxMin: maxMinJain(served, offered, weights),
    };
  };
  const variant = await runReference(spec, 'fairway', requests, ttlOnlyShedding(spec.settings));
  const diagnosis = new Map<string, RunOutput>([
    [TTL_ONLY, variant],
    [BEFORE_NAME, await runReference(spec, 'fairway', requests, { ...spec.settings, configOverrides: BEFORE })],
    [SLOTS_NAME, await runReference(spec, 'fairway', requests, { ...spec.settings, configOverrides: { saturation: { options: { slotLimit: 32 } } } })],
    [KV80, await runReference(spec, 'fairway', requests, { ...spec.settings, configOverrides: { saturation: { options: { kvThreshold: 0.8 } } } })],
    [NO_RESERVE, await runReference(spec, 'fairway', requests, { ...spec.settings, configOverrides: { flowControl: { tenantReserve: 0 } } })],
    [NO_PACING, await runReference(spec, 'fairway', requests, { ...spec.settings, configOverrides: { saturation: { options: { maxNumBatchedTokens: 0 } } } })],
  ]);
  const systems = Object.fromEntries([...runs].map(([name, run]) => [name, systemReport(spec, run, fairness(run))]));
  const references: Record<string, SystemReport> = {
    'tenant-b alone (fairway)': soloReport,
    ...Object.fromEntries([...diagnosis].map(([name, run]) => [name, systemReport(spec, run, fairness(run))])),
  };
  const num = (name: string, key: string): number => {
    const v = (systems[name] ?? references[name])?.extra[key];
    return typeof v === 'number' ? v : Number.NaN;
  };
  const bRatio = (name: string): number => (classOf(systems[name] ?? references[name] ?? soloReport, 'tenant-b')?.ttftP99Ms ?? Number.NaN) / (soloB?.ttftP99Ms ?? Number.NaN);
  const names = [...runs.keys(), ...diagnosis.keys()];
  // B's p99 over the whole run is dominated by the flood's first second, when A's burst takes every engine slot
  // at once and B waits for the first of those long requests to finish; the steady state is reported apart.
  const steadyB = (run: RunOutput): number => {
    const ttft = new Summary();
    for (const r of run.recorder.records.values()) {
      if (r.tenant === 'tenant-b' && r.arrivalMs >= WARM_MS && r.ttftMs !== undefined) ttft.add(r.ttftMs);
    }
    return ttft.percentile(99);
  };
  const steadyRuns = new Map<string, RunOutput>([...runs, ...diagnosis]);
  const baseline = runs.get('no-flow-control');
  const served = (name: string): number => {
    const run = steadyRuns.get(name);
    return run === undefined || baseline === undefined ? Number.NaN : servedTokensBetween(run, WARM_MS, spec.durationMs) / servedTokensBetween(baseline, WARM_MS, spec.durationMs);
  };
  const steadyRatio = (name: string): number => steadyB(steadyRuns.get(name) as RunOutput) / (soloB?.ttftP99Ms ?? Number.NaN);
  const jbPass = num('fairway', 'bothBackloggedSeconds') > 0 ? num('fairway', 'jainWhileBothBacklogged') >= 0.99 : undefined;
  return {
    ...reportHeader(spec, requests),
    systems,
    references,
    targets: [
      {
        name: `Jain, weighted token service, seconds where both tenants were backlogged the whole second (t >= ${WARM_MS / 1000} s)`,
        goal: '>= 0.99',
        values: Object.fromEntries(names.map((n) => [n, `${fmt(num(n, 'jainWhileBothBacklogged'), 3)} over ${num(n, 'bothBackloggedSeconds')} s`])),
        pass: jbPass,
      },
      {
        name: 'Jain, token service / weighted max-min fair share (whole flood window)',
        goal: '>= 0.99',
        values: Object.fromEntries(names.map((n) => [n, fmt(num(n, 'jainMaxMin'), 3)])),
        pass: num('fairway', 'jainMaxMin') >= 0.99,
      },
      {
        name: 'tenant-b TTFT p99 / solo p99',
        goal: '<= 3',
        values: Object.fromEntries(names.map((n): [string, string] => [n, fmt(bRatio(n), 2)]).concat([['solo p99 ms', fmt(soloB?.ttftP99Ms ?? Number.NaN)]])),
        pass: bRatio('fairway') <= 3,
      },
      {
        name: `tenant-b TTFT p99 of requests arriving after the first ${WARM_MS / 1000} s / solo p99 (steady state)`,
        goal: '<= 3',
        values: Object.fromEntries(names.map((n): [string, string] => [n, fmt(steadyRatio(n), 2)])),
        pass: steadyRatio('fairway') <= 3,
      },
      {
        name: `served tokens, traffic time ${WARM_MS / 1000}-${spec.durationMs / 1000} s, / no-flow-control`,
        goal: '>= 0.95',
        values: Object.fromEntries(names.map((n): [string, string] => [n, fmt(served(n), 3)])),
        pass: served('fairway') >= 0.95,
      },
    ],
    notes: [
      `Diagnosis runs, not baselines: "${TTL_ONLY}" (the band capacity lifted to 1,000,000 so that only the 20 s TTL sheds), "${BEFORE_NAME}" (\`learnSlotLimit: false, kvThreshold: 0.8, queuedTokenWeight: 0, maxNumBatchedTokens: 0\`, in-flight eviction off, \`tenantReserve: 0\`), "${SLOTS_NAME}" (\`saturation.options.slotLimit: 32\`), "${KV80}" (\`saturation.options.kvThreshold: 0.8\`, the Go reference's figure and hybrid's default before issue 13), "${NO_RESERVE}" (\`flowControl.tenantReserve: 0\`: no headroom kept for a light tenant), "${NO_PACING}" (\`saturation.options.maxNumBatchedTokens: 0\`: no tenant is held for the servers' prefill backlog).`,
      'Backlogged = at least one request arrived and not yet admitted into an engine batch (waiting in the gateway or in an engine queue). A second counts when both tenants were backlogged at every instant of it.',
      "Max-min form: Jain's x_i = served_i / fair_i, where fair_i is the weighted max-min (water-filling) share of the tokens the pool served, given each tenant's offered tokens; B asks for less than half, so its fair share is its demand.",
    ],
    plots: [servedTokensPlot(spec, runs), ttftPlot(spec, runs, new Map([['tenant-b alone', solo], [BEFORE_NAME, diagnosis.get(BEFORE_NAME) as RunOutput]]))],
    wallMs: Math.round(performance.now() - t0),
  };
}
