// Shared scenario machinery: the spec every scenario fills in, running the three systems (and solo references)
// over identical traffic, the per-system report rows, targets, and the two standard plots.
import { type PrefixHasher } from '../../src/scheduler/index.js';
import { BUCKET_MS } from './recorder.js';
import { type RunOutput, runSystem } from './run-system.js';
import { type ClassSummary, type PoolSummary, summarizeClasses, summarizePool, ttftSamples } from './summary.js';
import { type Panel, cdfPoints, renderChart } from './svg.js';
import { type FlowSettings, SYSTEMS, type SystemName } from './systems.js';
import { type PlannedRequest, type TrafficClass, planTraffic } from './traffic.js';

export interface ScenarioSpec {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly pods: number;
  /** Length of the traffic schedule (ms). */
  readonly durationMs: number;
  readonly seed: number;
  readonly classes: readonly TrafficClass[];
  readonly settings: FlowSettings;
  readonly metricsOutageMs?: number;
}

export interface SystemReport {
  readonly classes: readonly ClassSummary[];
  readonly pool: PoolSummary;
  readonly wallMs: number;
  readonly extra: Record<string, unknown>;
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  /** The measured figure per system (and reference runs), as shown in the report. */
  readonly values: Readonly<Record<string, string>>;
  /** Whether Fairway meets the goal; undefined when the figure does not exist in this run (see notes). */
  readonly pass: boolean | undefined;
}

export interface ScenarioReport {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly spec: Omit<ScenarioSpec, 'classes'> & { readonly classes: readonly TrafficClass[] };
  readonly requests: number;
  readonly systems: Readonly<Record<string, SystemReport>>;
  readonly references: Readonly<Record<string, SystemReport>>;
  readonly targets: readonly Target[];
  readonly notes: readonly string[];
  readonly plots: readonly { readonly file: string; readonly svg: string }[];
  readonly wallMs: number;
}

export interface ScenarioContext {
  readonly hasher: PrefixHasher;
  readonly quick: boolean;
}

export type Runs = ReadonlyMap<SystemName, RunOutput>;

export function plan(spec: ScenarioSpec, hasher: PrefixHasher, classes = spec.classes): PlannedRequest[] {
  return planTraffic(classes, spec.durationMs, spec.seed, hasher);
}

export async function runSystems(spec: ScenarioSpec, requests: readonly PlannedRequest[]): Promise<Map<SystemName, RunOutput>> {
  const out = new Map<SystemName, RunOutput>();
  for (const system of SYSTEMS) out.set(system, await runSystem(input(spec, system, requests)));
  return out;
}

/** The same system over a subset of the classes (its unloaded reference), or with other operator settings. */
export async function runReference(
  spec: ScenarioSpec,
  system: SystemName,
  requests: readonly PlannedRequest[],
  settings: FlowSettings = spec.settings,
): Promise<RunOutput> {
  return runSystem({ ...input(spec, system, requests), settings });
}

/** The spec's settings with every configured band's queue capacity lifted, so only the TTL sheds. */
export function ttlOnlyShedding(settings: FlowSettings): FlowSettings {
  return { ...settings, bands: settings.bands.map((b) => ({ ...b, maxRequests: 1_000_000 })) };
}

function input(spec: ScenarioSpec, system: SystemName, requests: readonly PlannedRequest[]): Parameters<typeof runSystem>[0] {
  return {
    system,
    pods: spec.pods,
    seed: spec.seed,
    requests,
    tenants: [...new Set(spec.classes.map((c) => c.tenant))],
    settings: spec.settings,
    metricsOutageMs: spec.metricsOutageMs,
  };
}

export function systemReport(spec: ScenarioSpec, run: RunOutput, extra: Record<string, unknown> = {}): SystemReport {
  return {
    classes: summarizeClasses(run, spec.classes.map((c) => c.name)).filter((c) => c.sent > 0),
    pool: summarizePool(run),
    wallMs: Math.round(run.wallMs),
    extra,
  };
}

/** Served tokens per second per tenant over time, one panel per system. */
export function servedTokensPlot(spec: ScenarioSpec, runs: Runs): { file: string; svg: string } {
  const tenants = [...new Set(spec.classes.map((c) => c.tenant))];
  const label = (t: string): string => spec.classes.filter((c) => c.tenant === t).map((c) => c.name).join('/');
  const panels: Panel[] = [...runs].map(([system, run]) => ({
    title: system,
    series: tenants.map((t) => ({
      name: label(t),
      points: (run.recorder.served.get(t) ?? []).map((v, b) => [(b * BUCKET_MS - run.startMs) / 1000, v / (BUCKET_MS / 1000)] as const),
    })),
  }));
  return {
    file: `${spec.name}-served-tokens.svg`,
    svg: renderChart({
      title: `${spec.title}: served tokens per tenant (prompt + output, 1 s buckets)`,
      xLabel: 'time since traffic start (s, virtual)',
      yLabel: 'tokens / s',
      panels,
    }),
  };
}

/** TTFT CDFs, one panel per class, one line per system (plus references). */
export function ttftPlot(spec: ScenarioSpec, runs: Runs, references: ReadonlyMap<string, RunOutput> = new Map()): { file: string; svg: string } {
  const classes = spec.classes.map((c) => c.name);
  const panels: Panel[] = classes.map((cls) => ({
    title: cls,
    series: [
      ...[...runs].map(([system, run]) => ({ name: system, points: cdfPoints(ttftSamples(run, cls)), step: true })),
      ...[...references].map(([name, run]) => ({ name, points: cdfPoints(ttftSamples(run, cls)), step: true })),
    ].filter((s) => s.points.length > 0),
  }));
  return {
    file: `${spec.name}-ttft-cdf.svg`,
    svg: renderChart({
      title: `${spec.title}: TTFT distribution of completed requests (CDF)`,
      xLabel: 'time to first token (ms, log scale; includes queueing in the gateway)',
      yLabel: 'fraction of completed requests',
      panels,
      xLog: true,
      yMax: 1,
    }),
  };
}

/** The fields every scenario report starts with. */
export function reportHeader(
  spec: ScenarioSpec,
  requests: readonly PlannedRequest[],
): Pick<ScenarioReport, 'name' | 'title' | 'description' | 'spec' | 'requests'> {
  return { name: spec.name, title: spec.title, description: spec.description, spec, requests: requests.length };
}

export function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

export function classOf(report: SystemReport, cls: string): ClassSummary | undefined {
  return report.classes.find((c) => c.cls === cls);
}
