// Scenario 6, several replicas: three Fairway replicas in front of one simulated pool. The noisy tenant sends
// everything to replica 0; tenant B spreads over all three. Shared state (sync every 20 ms, 1 ms round trip) vs
// independent replicas vs one process, same traffic: fairness, B's TTFT, per-pod herding in a burst spread over
// the replicas, and a shared-store outage in the middle of a run.
import { Summary } from '../../../src/core/index.js';
import { maxMinJain, weightedJain } from '../jain.js';
import { BUCKET_MS } from '../recorder.js';
import { type ReplicaMode, type ReplicaRunOutput, REPLICA_MODES, runReplicas } from '../replica-runner.js';
import { type ScenarioContext, type ScenarioReport, type ScenarioSpec, type SystemReport, fmt, plan, reportHeader, systemReport } from '../scenario.js';
import { SCRAPE_INTERVAL_MS } from '../sim-pool.js';
import { spread } from '../summary.js';
import { type Panel, cdfPoints, renderChart } from '../svg.js';
import { type PlannedRequest } from '../traffic.js';
import { backloggedBuckets, bucketsBetween, offeredTokens, servedInBuckets } from './tenant-window.js';

const REPLICAS = 3;
const SYNC_MS = 20;
const LATENCY_MS = 1;
const WARM_MS = 3_000;
const TENANTS = ['tenant-a', 'tenant-b'] as const;

/** A to replica 0; B round-robin over the three (by arrival order). */
function router(requests: readonly PlannedRequest[]): (r: PlannedRequest) => number {
  const index = new Map<string, number>();
  let b = 0;
  for (const r of requests) index.set(r.id, r.tenant === 'tenant-a' ? 0 : b++ % REPLICAS);
  return (r) => index.get(r.id) ?? 0;
}

function spec(name: string, quick: boolean, heavyB: boolean): ScenarioSpec {
  const durationMs = quick ? 20_000 : 60_000;
  const b = heavyB
    ? { ratePerSecond: 480, promptTokens: 1_024, maxTokens: 128 }
    : { ratePerSecond: 48, promptTokens: 256, maxTokens: 64 };
  return {
    name,
    title: heavyB ? 'Replicas, both tenants flooding' : 'Replicas, noisy tenant',
    description: `3 replicas; tenant A at 480 req/s with 1,024-token prompts, all to replica 0; tenant B at ${b.ratePerSecond} req/s with ${b.promptTokens}-token prompts, spread over the 3 replicas; equal weights, one band`,
    pods: 8,
    durationMs,
    seed: heavyB ? 66 : 22,
    classes: [
      { name: 'tenant-a (noisy)', tenant: 'tenant-a', priority: 0, ratePerSecond: 480, promptTokens: 1_024, maxTokens: 128, clientTimeoutMs: 30_000 },
      { name: 'tenant-b', tenant: 'tenant-b', priority: 0, ...b, sharedPrefixTokens: 64, clientTimeoutMs: 30_000 },
    ],
    settings: { bands: [{ priority: 0, name: 'standard', maxRequests: 2_000, ttlMs: 20_000 }] },
  };
}

function burstSpec(quick: boolean): ScenarioSpec {
  return {
    name: 'replicas-burst',
    title: 'Replicas, burst',
    description: `${quick ? 500 : 2_000} requests (512/128) at one instant, spread over 3 replicas, onto 8 idle pods`,
    pods: 8,
    durationMs: 1_000,
    seed: 44,
    classes: [{ name: 'burst', tenant: 'burst', priority: 0, ratePerSecond: 0, burst: quick ? 500 : 2_000, promptTokens: 512, maxTokens: 128, sharedPrefixTokens: 64, clientTimeoutMs: 60_000 }],
    settings: { bands: [{ priority: 0, name: 'standard' }] },
  };
}

const LABEL: Record<ReplicaMode, string> = { shared: 'shared state (3 replicas)', independent: 'independent (3 replicas)', 'one-process': 'one process' };

async function runModes(s: ScenarioSpec, requests: readonly PlannedRequest[], route: (r: PlannedRequest) => number, outage?: { fromMs: number; toMs: number }) {
  const out = new Map<ReplicaMode, ReplicaRunOutput>();
  for (const mode of REPLICA_MODES) {
    out.set(
      mode,
      await runReplicas({
        mode,
        replicas: REPLICAS,
        pods: s.pods,
        seed: s.seed,
        requests,
        tenants: [...new Set(s.classes.map((c) => c.tenant))],
        settings: s.settings,
        route,
        syncIntervalMs: SYNC_MS,
        latencyMs: LATENCY_MS,
        outage: mode === 'shared' ? outage : undefined,
      }),
    );
  }
  return out;
}

function fairness(s: ScenarioSpec, requests: readonly PlannedRequest[], run: ReplicaRunOutput, fromMs = WARM_MS, toMs = s.durationMs): Record<string, number | null> {
  const both = backloggedBuckets(run, TENANTS, fromMs, toMs);
  const window = bucketsBetween(run, fromMs, toMs);
  const served = servedInBuckets(run, TENANTS, window);
  const offered = offeredTokens(requests, TENANTS, fromMs, toMs);
  return {
    bothBackloggedSeconds: both.length,
    jainWhileBothBacklogged: both.length > 0 ? weightedJain(servedInBuckets(run, TENANTS, both), [1, 1]) : null,
    jainMaxMin: maxMinJain(served, offered, [1, 1]),
    servedShareA: served[0]! / Math.max(1, served[0]! + served[1]!),
  };
}

function ttftP99(run: ReplicaRunOutput, tenant: string, fromMs = 0): number {
  const s = new Summary();
  for (const r of run.recorder.records.values()) if (r.tenant === tenant && r.arrivalMs >= run.startMs + fromMs && r.ttftMs !== undefined) s.add(r.ttftMs);
  return s.percentile(99);
}

function servedPlot(file: string, title: string, runs: ReadonlyMap<string, ReplicaRunOutput>, outage?: { fromMs: number; toMs: number }): { file: string; svg: string } {
  const panels: Panel[] = [...runs].map(([name, run]) => ({
    title: name,
    series: TENANTS.map((t) => ({
      name: t,
      points: (run.recorder.served.get(t) ?? []).map((v, b) => [(b * BUCKET_MS - run.startMs) / 1000, v / (BUCKET_MS / 1000)] as const),
    })),
  }));
  const note = outage === undefined ? '' : ` (shared store unreachable ${outage.fromMs / 1000}-${outage.toMs / 1000} s)`;
  return { file, svg: renderChart({ title: `${title}: served tokens per tenant${note}`, xLabel: 'time since traffic start (s, virtual)', yLabel: 'tokens / s', panels }) };
}

function ttftPlotOf(file: string, title: string, runs: ReadonlyMap<string, ReplicaRunOutput>): { file: string; svg: string } {
  const panels: Panel[] = ['tenant-b'].map((tenant) => ({
    title: tenant,
    series: [...runs].map(([name, run]) => ({
      name,
      points: cdfPoints([...run.recorder.records.values()].filter((r) => r.tenant === tenant && r.ttftMs !== undefined).map((r) => r.ttftMs as number)),
      step: true,
    })),
  }));
  return { file, svg: renderChart({ title: `${title}: tenant B TTFT (CDF)`, xLabel: 'TTFT (ms, log scale)', yLabel: 'fraction', panels, xLog: true, yMax: 1 }) };
}

export async function runReplicaScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const t0 = performance.now();
  const noisy = spec('replicas', ctx.quick, false);
  const heavy = spec('replicas-flood', ctx.quick, true);
  const burst = burstSpec(ctx.quick);
  const noisyReq = plan(noisy, ctx.hasher);
  const heavyReq = plan(heavy, ctx.hasher);
  const burstReq = plan(burst, ctx.hasher);
  const noisyRuns = await runModes(noisy, noisyReq, router(noisyReq));
  const heavyRuns = await runModes(heavy, heavyReq, router(heavyReq));
  const burstRuns = await runModes(burst, burstReq, router(burstReq));
  const third = heavy.durationMs / 3;
  const outage = { fromMs: Math.round(third), toMs: Math.round(2 * third) };
  const outageRun = (await runModes(heavy, heavyReq, router(heavyReq), outage)).get('shared') as ReplicaRunOutput;

  const systems: Record<string, SystemReport> = {};
  for (const mode of REPLICA_MODES) {
    const n = noisyRuns.get(mode) as ReplicaRunOutput;
    const h = heavyRuns.get(mode) as ReplicaRunOutput;
    const b = burstRuns.get(mode) as ReplicaRunOutput;
    const firstWave = new Map<string, number>();
    for (const r of b.recorder.records.values()) {
      if (r.endpoint !== undefined && r.dispatchedAtMs !== undefined && r.dispatchedAtMs < b.startMs + SCRAPE_INTERVAL_MS) firstWave.set(r.endpoint, (firstWave.get(r.endpoint) ?? 0) + 1);
    }
    const wave = Array.from({ length: burst.pods }, (_, i) => firstWave.get(`pod-${i}:8000`) ?? 0);
    const peak = Array.from({ length: burst.pods }, (_, i) => b.recorder.peakInflightPerPod.get(`pod-${i}:8000`) ?? 0);
    systems[LABEL[mode]] = systemReport(noisy, n, {
      noisy: { ...fairness(noisy, noisyReq, n), tenantBTtftP99Ms: ttftP99(n, 'tenant-b'), tenantBTtftP99SteadyMs: ttftP99(n, 'tenant-b', WARM_MS), lost: n.lost, perReplica: n.perReplica },
      flood: { ...fairness(heavy, heavyReq, h), tenantBTtftP99Ms: ttftP99(h, 'tenant-b'), lost: h.lost, perReplica: h.perReplica },
      burst: { firstScrapeIntervalPerPod: wave, firstScrapeInterval: spread(wave), peakConcurrentPerPod: peak, peakConcurrent: spread(peak), lost: b.lost },
    });
  }
  const before = fairness(heavy, heavyReq, outageRun, WARM_MS, outage.fromMs);
  const during = fairness(heavy, heavyReq, outageRun, outage.fromMs + 1_000, outage.toMs);
  const after = fairness(heavy, heavyReq, outageRun, outage.toMs + 1_000, heavy.durationMs);
  const timeouts = [...outageRun.recorder.records.values()].filter((r) => r.outcome === 'timeout').length;
  const references: Record<string, SystemReport> = {
    'shared state, store outage mid-run (flood)': systemReport(heavy, outageRun, { outage, before, during, after, lost: outageRun.lost, timeouts, failedRounds: outageRun.failedRounds }),
  };
  const get = (mode: ReplicaMode, part: string, key: string): number => {
    const v = (systems[LABEL[mode]]?.extra[part] as Record<string, unknown> | undefined)?.[key];
    return typeof v === 'number' ? v : Number.NaN;
  };
  const waveOf = (mode: ReplicaMode): string => {
    const w = (systems[LABEL[mode]]?.extra.burst as { firstScrapeInterval?: { max: number; min: number; cv: number } } | undefined)?.firstScrapeInterval;
    return w === undefined ? 'n/a' : `max ${w.max} / min ${w.min}, CV ${fmt(w.cv, 2)}`;
  };
  const row = (fn: (m: ReplicaMode) => string): Record<string, string> => Object.fromEntries(REPLICA_MODES.map((m) => [LABEL[m], fn(m)]));
  const sharedFloodJain = get('shared', 'flood', 'jainWhileBothBacklogged');
  const duringJain = during.jainWhileBothBacklogged;
  return {
    ...reportHeader(heavy, heavyReq),
    name: 'replicas',
    title: 'Several replicas',
    description: `${noisy.description}. Flood variant: B also floods (480 req/s, 1,024-token prompts). Burst: ${burst.description}. Shared state syncs every ${SYNC_MS} ms with a ${LATENCY_MS} ms round trip.`,
    systems,
    references,
    targets: [
      {
        name: 'flood: Jain on weighted served tokens, seconds where both tenants were backlogged throughout',
        goal: '>= 0.99 across replicas',
        values: row((m) => `${fmt(get(m, 'flood', 'jainWhileBothBacklogged'), 3)} (A's share ${fmt(get(m, 'flood', 'servedShareA'), 3)})`),
        pass: Number.isFinite(sharedFloodJain) ? sharedFloodJain >= 0.99 : undefined,
      },
      {
        name: 'noisy tenant: Jain, token service / weighted max-min fair share (after 3 s)',
        goal: '>= 0.99 across replicas',
        values: row((m) => fmt(get(m, 'noisy', 'jainMaxMin'), 3)),
        pass: get('shared', 'noisy', 'jainMaxMin') >= 0.99,
      },
      {
        name: 'noisy tenant: tenant B TTFT p99 ms (all / arriving after 3 s)',
        goal: 'report (shared close to one process)',
        values: row((m) => `${fmt(get(m, 'noisy', 'tenantBTtftP99Ms'))} / ${fmt(get(m, 'noisy', 'tenantBTtftP99SteadyMs'))}`),
        pass: undefined,
      },
      {
        name: `burst: requests per pod routed in the first ${SCRAPE_INTERVAL_MS} ms (one scrape interval)`,
        goal: 'report (even spread, no pod over its 32 slots)',
        values: row(waveOf),
        pass: undefined,
      },
      {
        name: `store outage ${outage.fromMs / 1000}-${outage.toMs / 1000} s (flood, shared): lost requests, Jain before / during / after`,
        goal: '0 lost; fair again after the store is back',
        values: {
          lost: String(outageRun.lost),
          'Jain before': fmt(before.jainWhileBothBacklogged ?? Number.NaN, 3),
          'Jain during (local-only)': fmt(duringJain ?? Number.NaN, 3),
          'Jain after': fmt(after.jainWhileBothBacklogged ?? Number.NaN, 3),
        },
        pass: outageRun.lost === 0 && (after.jainWhileBothBacklogged ?? 0) >= 0.99,
      },
    ],
    notes: [
      'Independent replicas each fair-queue their own traffic: replica 0 splits its share between A and B, replicas 1 and 2 give theirs to B, so B gets about 5/6 of the pool when both flood. Shared state makes the keys pool-wide and holds a replica whose best tenant is ahead of a tenant queued elsewhere.',
      'During the outage every replica is local-only (by design: nothing waits for the store), so fairness is per replica until it is back; no request is lost or fails because of it.',
      'Herding: within one sync interval a replica does not see the others\' dispatches, so a burst that reaches every replica at the same instant still lands on the same headroom until the first sync; the hybrid detector caps each endpoint at its 32 slots counted pool-wide once synced.',
    ],
    plots: [
      servedPlot('replicas-flood-served-tokens.svg', 'Replicas, both tenants flooding', new Map([...heavyRuns].map(([m, r]) => [LABEL[m], r]))),
      servedPlot('replicas-outage-served-tokens.svg', 'Replicas, store outage', new Map([['shared state', outageRun]]), outage),
      ttftPlotOf('replicas-noisy-ttft-cdf.svg', 'Replicas, noisy tenant', new Map([...noisyRuns].map(([m, r]) => [LABEL[m], r]))),
    ],
    wallMs: Math.round(performance.now() - t0),
  };
}
