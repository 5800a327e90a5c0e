// Scenario: in-flight eviction. Sheddable batch traffic floods the pool at twice its capacity; a burst of
// interactive requests arrives in the middle. Fairway with in-flight eviction (the default) against the same
// configuration with eviction off, no flow control and the Go defaults: interactive TTFT distributions and
// the evictions over time.
import { DEFAULT_EVICTION_BURST, DEFAULT_EVICTIONS_PER_SECOND } from '../../../src/flowcontrol/index.js';
import { type RunOutput } from '../run-system.js';
import { BUCKET_MS } from '../recorder.js';
import {
  type ScenarioContext,
  type ScenarioReport,
  type ScenarioSpec,
  type SystemReport,
  classOf,
  fmt,
  plan,
  reportHeader,
  runReference,
  runSystems,
  systemReport,
  ttftPlot,
} from '../scenario.js';
import { renderChart } from '../svg.js';

const EVICTION_OFF = 'fairway, eviction off';
const BURST_START_MS = 6_000;
const BURST_MS = 2_000;
/** About twice what 8 ci pods complete of 512/1,024 requests (~21 req/s, measured). */
const BATCH_RATE = 40;
/** Evictions are counted in buckets this long for the plot. */
const PLOT_BUCKET_MS = 250;
/** The default token bucket of in-flight eviction, and what it allows in one plot bucket. */
const BUCKET_CAP = DEFAULT_EVICTION_BURST + (DEFAULT_EVICTIONS_PER_SECOND * PLOT_BUCKET_MS) / 1000;
const EVICTION_BURST = DEFAULT_EVICTION_BURST;
const EVICTIONS_PER_SECOND = DEFAULT_EVICTIONS_PER_SECOND;

export function evictionSpec(quick: boolean): ScenarioSpec {
  const pods = 8;
  const durationMs = quick ? 14_000 : 30_000;
  return {
    name: 'eviction',
    title: 'In-flight eviction',
    description: `sheddable batch (priority -1, 512-token prompts, up to 1,024 output tokens) floods at ~2x pool capacity; an interactive burst (priority 1, 256/64) at 150 req/s for ${BURST_MS / 1000} s arrives ${BURST_START_MS / 1000} s in`,
    pods,
    durationMs,
    seed: 55,
    classes: [
      {
        name: 'interactive',
        tenant: 'chat',
        priority: 1,
        ratePerSecond: 150,
        promptTokens: 256,
        maxTokens: 64,
        sharedPrefixTokens: 128,
        startMs: BURST_START_MS,
        stopMs: BURST_START_MS + BURST_MS,
        clientTimeoutMs: 30_000,
      },
      // Long generations (512-1,024 output tokens, several seconds each): without eviction a slot frees rarely.
      { name: 'batch', tenant: 'batch', priority: -1, ratePerSecond: BATCH_RATE, promptTokens: 512, maxTokens: 1_024, clientTimeoutMs: 60_000 },
    ],
    settings: {
      bands: [
        { priority: 1, name: 'interactive' },
        { priority: -1, name: 'batch', maxRequests: 2_000, ttlMs: 20_000 },
      ],
    },
  };
}

/** In-flight evictions per PLOT_BUCKET_MS, and how many of them had streamed a token already. */
function evictionsOverTime(run: RunOutput): { all: number[]; started: number[] } {
  const all: number[] = [];
  const started: number[] = [];
  for (const r of run.recorder.records.values()) {
    if (r.evictedAtMs === undefined) continue;
    const b = Math.floor((r.evictedAtMs - run.startMs) / PLOT_BUCKET_MS);
    while (all.length <= b) {
      all.push(0);
      started.push(0);
    }
    all[b] = (all[b] ?? 0) + 1;
    if (r.ttftMs !== undefined) started[b] = (started[b] ?? 0) + 1;
  }
  return { all, started };
}

/** Interactive arrivals per PLOT_BUCKET_MS (the demand the evictions answer). */
function arrivalsOverTime(run: RunOutput, cls: string): number[] {
  const out: number[] = [];
  for (const r of run.recorder.records.values()) {
    if (r.cls !== cls) continue;
    const b = Math.floor((r.arrivalMs - run.startMs) / PLOT_BUCKET_MS);
    while (out.length <= b) out.push(0);
    out[b] = (out[b] ?? 0) + 1;
  }
  return out;
}

function evictionPlot(spec: ScenarioSpec, run: RunOutput): { file: string; svg: string } {
  const ev = evictionsOverTime(run);
  const toPoints = (xs: readonly number[]): [number, number][] => xs.map((v, b) => [(b * PLOT_BUCKET_MS) / 1000, v / (PLOT_BUCKET_MS / 1000)]);
  return {
    file: `${spec.name}-evictions.svg`,
    svg: renderChart({
      title: `${spec.title}: evictions over time (${PLOT_BUCKET_MS} ms buckets)`,
      panelWidth: 640,
      xLabel: 'time since traffic start (s, virtual)',
      yLabel: 'per second',
      panels: [
        {
          title: 'fairway, default configuration',
          series: [
            { name: 'interactive arrivals', points: toPoints(arrivalsOverTime(run, 'interactive')) },
            { name: 'batch evicted in flight', points: toPoints(ev.all) },
            { name: 'of which streaming already (stream ended)', points: toPoints(ev.started) },
          ],
        },
      ],
    }),
  };
}

export async function runEviction(ctx: ScenarioContext): Promise<ScenarioReport> {
  const t0 = performance.now();
  const spec = evictionSpec(ctx.quick);
  const requests = plan(spec, ctx.hasher);
  const runs = await runSystems(spec, requests);
  const solo = await runReference(spec, 'fairway', requests.filter((r) => r.cls === 'interactive'));
  const off = await runReference(spec, 'fairway', requests, {
    ...spec.settings,
    configOverrides: { flowControl: { inflightEviction: { enabled: false } } },
  });
  const count = (run: RunOutput): Record<string, unknown> => {
    let evicted = 0;
    let started = 0;
    for (const r of run.recorder.records.values()) {
      if (r.evictedAtMs === undefined) continue;
      evicted++;
      if (r.ttftMs !== undefined) started++;
    }
    const { all } = evictionsOverTime(run);
    return { evicted, evictedWhileStreaming: started, peakEvictionsPerBucket: Math.max(0, ...all) };
  };
  const systems = Object.fromEntries([...runs].map(([name, run]) => [name, systemReport(spec, run, count(run))]));
  const soloReport = systemReport(spec, solo);
  const references: Record<string, SystemReport> = { 'interactive alone (fairway)': soloReport, [EVICTION_OFF]: systemReport(spec, off, count(off)) };
  const soloP99 = classOf(soloReport, 'interactive')?.ttftP99Ms ?? Number.NaN;
  const of = (name: string): SystemReport | undefined => systems[name] ?? references[name];
  const ratio = (name: string): number => {
    const r = of(name);
    return (r === undefined ? Number.NaN : (classOf(r, 'interactive')?.ttftP99Ms ?? Number.NaN)) / soloP99;
  };
  const names = [...runs.keys(), EVICTION_OFF];
  const extra = (name: string, key: string): string => {
    const v = of(name)?.extra[key];
    return typeof v === 'number' ? String(v) : '-';
  };
  const peak = Number(systems.fairway?.extra.peakEvictionsPerBucket ?? Number.NaN);
  return {
    ...reportHeader(spec, requests),
    systems,
    references,
    targets: [
      {
        name: 'interactive TTFT p99 / unloaded p99, during the burst',
        goal: 'report (eviction on vs off)',
        values: Object.fromEntries(names.map((n): [string, string] => [n, fmt(ratio(n), 2)]).concat([['unloaded p99 ms', fmt(soloP99)]])),
        pass: undefined,
      },
      {
        name: 'batch requests evicted in flight (of which streaming already)',
        goal: 'report',
        values: Object.fromEntries(names.map((n) => [n, `${extra(n, 'evicted')} (${extra(n, 'evictedWhileStreaming')})`])),
        pass: undefined,
      },
      {
        name: `most evictions in one ${PLOT_BUCKET_MS} ms bucket`,
        goal: `<= ${BUCKET_CAP} (burst ${EVICTION_BURST} + ${EVICTIONS_PER_SECOND}/s x ${PLOT_BUCKET_MS / 1000} s: the rate limit holds)`,
        values: Object.fromEntries(names.map((n) => [n, extra(n, 'peakEvictionsPerBucket')])),
        pass: peak <= BUCKET_CAP,
      },
    ],
    notes: [
      `"${EVICTION_OFF}" is a diagnosis run, not a baseline: the same fairway configuration with \`flowControl.inflightEviction.enabled: false\` (the behaviour before issue 13).`,
      `Batch offered at ${BATCH_RATE} req/s throughout; ${BUCKET_MS / 1000}-s buckets elsewhere, ${PLOT_BUCKET_MS} ms in the evictions plot.`,
    ],
    plots: [ttftPlot(spec, runs, new Map([['interactive alone', solo], [EVICTION_OFF, off]])), evictionPlot(spec, runs.get('fairway') as RunOutput)],
    wallMs: Math.round(performance.now() - t0),
  };
}
