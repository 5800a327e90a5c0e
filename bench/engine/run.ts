// Engine benchmark (issue 2): the real FlowController against p-queue on the same workloads; prints a markdown
// table and writes bench/results/engine.json. Run: node --expose-gc dist/bench/engine/run.js [--quick].
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { planFor, TARGETS } from './plan.js';
import { ZIPF_EXPONENT } from './requests.js';
import { markdown, verdicts } from './report.js';
import { writeResults } from '../results-file.js';
import { runSuite } from './suite.js';
import { gcAvailable } from './stats.js';

function machineInfo(): { cpu: string; cores: number; node: string; platform: string; memoryGiB: number; loadAverage: number[] } {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export async function run(options: { quick?: boolean } = {}): Promise<object> {
  const plan = planFor(options.quick === true);
  if (!gcAvailable()) console.warn('engine bench: run node with --expose-gc; heap figures are unreliable without it');
  const machine = machineInfo();
  const started = performance.now();
  // Engine timers are unref'd; keep the process alive while a drain waits on them.
  const keepAlive = setInterval(() => {}, 1_000);
  try {
    console.log(`engine bench${plan.quick ? ' (--quick)' : ''}: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
    const results = await runSuite(plan, (line) => console.log(line));
    const list = verdicts(results, plan);
    const label = `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`;
    console.log(`\n${markdown(results, plan, list, label)}\n`);
    const json = {
      benchmark: 'engine',
      date: new Date().toISOString(),
      machine: { ...machine, loadAverageAfter: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      durationSec: Math.round((performance.now() - started) / 100) / 10,
      plan,
      zipfExponent: ZIPF_EXPONENT,
      targets: TARGETS,
      verdicts: list,
      ...results,
    };
    const file = writeResults('engine.json', json);
    console.log(`wrote ${file} in ${json.durationSec} s`);
    return json;
  } finally {
    clearInterval(keepAlive);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run({ quick: process.argv.includes('--quick') }).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
