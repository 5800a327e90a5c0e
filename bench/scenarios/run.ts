// Multi-tenant scenarios against the simulated pool, in virtual time: Fairway and two baselines (no flow
// control; the Go reference's defaults) over identical seeded traffic. Prints markdown, writes JSON results and
// SVG plots. `node dist/bench/scenarios/run.js [--full] [--only=noisy-tenant,drain]`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../results-file.js';
import { createPrefixHasher } from '../../src/scheduler/index.js';
import { renderScenario } from './report.js';
import { type ScenarioContext, type ScenarioReport } from './scenario.js';
import { runBurstHerding } from './scenarios/burst-herding.js';
import { runDrain } from './scenarios/drain.js';
import { runEviction } from './scenarios/eviction.js';
import { runNoisyTenant } from './scenarios/noisy-tenant.js';
import { runPriorityProtection } from './scenarios/priority-protection.js';
import { runReplicaScenario } from './scenarios/replicas.js';
import { runWeightedTenants } from './scenarios/weighted-tenants.js';

export const SCENARIOS: readonly (readonly [string, (ctx: ScenarioContext) => Promise<ScenarioReport>])[] = [
  ['priority-protection', runPriorityProtection],
  ['eviction', runEviction],
  ['noisy-tenant', runNoisyTenant],
  ['weighted-tenants', runWeightedTenants],
  ['burst-herding', runBurstHerding],
  ['drain', runDrain],
  ['replicas', runReplicaScenario],
];

export async function run(options: { quick?: boolean; only?: string[] } = {}): Promise<object> {
  const quick = options.quick ?? true;
  const started = performance.now();
  const ctx: ScenarioContext = { hasher: await createPrefixHasher(), quick };
  const root = repoRoot();
  const resultsDir = join(root, 'bench', 'results', 'scenarios');
  const plotsDir = join(root, 'bench', 'results', 'plots');
  mkdirSync(resultsDir, { recursive: true });
  mkdirSync(plotsDir, { recursive: true });
  console.log(`Scenarios in virtual time (${quick ? 'quick' : 'full'} mode): Fairway vs no flow control vs Go defaults.\n`);
  const machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version };
  const summaries: Record<string, object> = {};
  for (const [name, fn] of SCENARIOS) {
    if (options.only !== undefined && !options.only.includes(name)) continue;
    const report = await fn(ctx);
    console.log(renderScenario(report));
    console.log(`_${name}: ${(report.wallMs / 1000).toFixed(1)} s wall_\n`);
    for (const p of report.plots) writeFileSync(join(plotsDir, p.file), p.svg);
    const { plots, ...rest } = report;
    const json = { machine, quick, generatedAt: new Date().toISOString(), ...rest, plots: plots.map((p) => `bench/results/plots/${p.file}`) };
    writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify(json, null, 2));
    summaries[name] = { targets: report.targets, wallMs: report.wallMs };
  }
  const wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  console.log(`All scenarios: ${wallSeconds} s wall on ${machine.cores} x ${machine.cpu ?? 'unknown CPU'}.`);
  return { quick, machine, wallSeconds, scenarios: summaries };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  await run({ quick: !process.argv.includes('--full'), only });
}
