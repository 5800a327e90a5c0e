// Scenario 3, weighted tenants 3:1: two tenants each offering 1.5x the pool's capacity, weights 3 and 1.
// Target: served tokens in the ratio of the weights (within 5%) over the seconds where both were backlogged.
import { weightedJain } from '../jain.js';
import { type RunOutput } from '../run-system.js';
import {
  type ScenarioContext,
  type ScenarioReport,
  type ScenarioSpec,
  type SystemReport,
  reportHeader,
  fmt,
  plan,
  runSystems,
  servedTokensPlot,
  runReference,
  systemReport,
  ttftPlot,
  ttlOnlyShedding,
} from '../scenario.js';
import { POD_CAPACITY_512_128 } from './priority-protection.js';
import { backloggedBuckets, servedInBuckets } from './tenant-window.js';

const WARM_MS = 3_000;
const TENANTS = ['gold', 'bronze'] as const;
const WEIGHTS = [3, 1];
/** Diagnosis variant: fairway with the band's queue capacity lifted, so requests are shed by TTL only. */
const TTL_ONLY = 'fairway, capacity not binding';

export function weightedSpec(quick: boolean): ScenarioSpec {
  const pods = 8;
  const rate = 1.5 * POD_CAPACITY_512_128 * pods;
  return {
    name: 'weighted-tenants',
    title: 'Weighted tenants 3:1',
    description: `gold (weight 3) and bronze (weight 1) each offer ${rate} req/s of 512/128 requests (1.5x the pool each), one band`,
    pods,
    durationMs: quick ? 20_000 : 60_000,
    seed: 33,
    classes: [
      { name: 'gold (w=3)', tenant: 'gold', priority: 0, ratePerSecond: rate, promptTokens: 512, maxTokens: 128, sharedPrefixTokens: 64, clientTimeoutMs: 30_000 },
      { name: 'bronze (w=1)', tenant: 'bronze', priority: 0, ratePerSecond: rate, promptTokens: 512, maxTokens: 128, sharedPrefixTokens: 64, clientTimeoutMs: 30_000 },
    ],
    settings: { bands: [{ priority: 0, name: 'standard', maxRequests: 2_000, ttlMs: 20_000 }], tenantWeights: { gold: 3, bronze: 1 } },
  };
}

export async function runWeightedTenants(ctx: ScenarioContext): Promise<ScenarioReport> {
  const t0 = performance.now();
  const spec = weightedSpec(ctx.quick);
  const requests = plan(spec, ctx.hasher);
  const runs = await runSystems(spec, requests);
  const figures = (run: RunOutput): Record<string, unknown> => {
    const both = backloggedBuckets(run, TENANTS, WARM_MS, spec.durationMs);
    const served = servedInBuckets(run, TENANTS, both);
    const [gold = 0, bronze = 0] = served;
    return {
      bothBackloggedSeconds: both.length,
      servedTokensWhileBacklogged: { gold, bronze },
      goldToBronze: bronze > 0 ? gold / bronze : null,
      jainWeighted: both.length > 0 ? weightedJain(served, WEIGHTS) : null,
    };
  };
  const variant = await runReference(spec, 'fairway', requests, ttlOnlyShedding(spec.settings));
  const systems = Object.fromEntries([...runs].map(([name, run]) => [name, systemReport(spec, run, figures(run))]));
  const references: Record<string, SystemReport> = { [TTL_ONLY]: systemReport(spec, variant, figures(variant)) };
  const num = (name: string, key: string): number => {
    const v = (systems[name] ?? references[name])?.extra[key];
    return typeof v === 'number' ? v : Number.NaN;
  };
  const names = [...runs.keys(), TTL_ONLY];
  const ratio = num('fairway', 'goldToBronze');
  return {
    ...reportHeader(spec, requests),
    systems,
    references,
    targets: [
      {
        name: `served tokens gold / bronze while both backlogged (t >= ${WARM_MS / 1000} s)`,
        goal: '3.0 +/- 5% (2.85..3.15)',
        values: Object.fromEntries(names.map((n) => [n, `${fmt(num(n, 'goldToBronze'), 3)} over ${num(n, 'bothBackloggedSeconds')} s`])),
        pass: Math.abs(ratio / 3 - 1) <= 0.05,
      },
      {
        name: 'Jain, weighted token service, same window',
        goal: '(>= 0.99)',
        values: Object.fromEntries(names.map((n) => [n, fmt(num(n, 'jainWeighted'), 4)])),
        pass: num('fairway', 'jainWeighted') >= 0.99,
      },
    ],
    notes: [
      `"${TTL_ONLY}" is a diagnosis run, not a baseline: the same fairway configuration with the band capacity lifted to 1,000,000 so that only the 20 s TTL sheds.`,
      'Served tokens: prompt tokens counted at the first token, then each output token when emitted (what the fairness counter is corrected to at release).'],
    plots: [servedTokensPlot(spec, runs), ttftPlot(spec, runs)],
    wallMs: Math.round(performance.now() - t0),
  };
}
