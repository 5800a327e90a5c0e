// `npm run bench`: every benchmark in one go, each printing its table; results land in bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { run as datalayer } from './datalayer/run.js';
import { run as datalayerDispatch } from './datalayer/dispatch-side.js';
import { run as engine } from './engine/run.js';
import { run as extproc } from './extproc/run.js';
import { run as kubernetes } from './kubernetes/run.js';
import { run as peerSync } from './saturation/peer-sync.js';
import { run as longContext } from './extproc/long-context.js';
import { run as scenarios } from './scenarios/run.js';
import { run as scheduler } from './scheduler/run.js';
import { run as prefixDepth } from './scheduler/prefix-depth.js';
import { run as poolScale } from './scheduler/pool-scale.js';
import { run as simulator } from './simulator/run.js';

const quick = !process.argv.includes('--full');
const suites: [string, () => Promise<object>][] = [
  ['engine', () => engine({ quick })],
  ['scheduler', scheduler],
  ['prefix-depth', () => prefixDepth({ quick })],
  ['pick-pool-scale', () => poolScale({ rounds: quick ? 3 : 5 })],
  ['datalayer', datalayer],
  ['datalayer-dispatch', () => datalayerDispatch({ rounds: quick ? 3 : 5 })],
  ['peer-sync', () => peerSync({ rounds: quick ? 3 : 5 })],
  ['simulator', simulator],
  ['extproc', extproc],
  ['long-context', () => longContext(quick ? { sizes: ['1k', '225k'], reps: 1, phaseMs: 2_000 } : {})],
  ['kubernetes', () => kubernetes({ seconds: quick ? 5 : 10 })],
  ['scenarios', () => scenarios({ quick })],
];
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');

const results: Record<string, object> = {};
for (const [name, fn] of suites) {
  if (only !== undefined && !only.includes(name)) continue;
  console.log(`\n## ${name}\n`);
  results[name] = await fn();
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./results/all.json', import.meta.url),
  JSON.stringify({ machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version }, quick, results }, null, 2),
);
