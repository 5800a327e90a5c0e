// lowerBackgroundThreads on real threads (Linux), in a child process of its own so this test runner's threads keep
// their priority: every thread but the caller gets at least the caller's nice value plus the increment (what the
// scrape worker gives itself; none is raised above what it had), threads started afterwards take the caller's, and
// a worker thread cannot renice its process.
// Runs the built module (dist/), as the server does.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('../../../dist/src/datalayer/thread-priority.js', import.meta.url));

interface ChildReport {
  readonly main: number;
  readonly result: { applied: boolean; nice?: number; lowered?: number; reason?: string };
  readonly before: Record<string, number>;
  readonly after: Record<string, number>;
  readonly fromWorker: { applied: boolean; reason?: string };
  readonly workerNiceAtStart: number;
}

// The child: starts the threadpool, raises one thread above the target first (it must stay there), lowers the
// others, then starts a worker thread that reports its own nice value and tries the call itself.
const CHILD = `
import { readdirSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
const { lowerBackgroundThreads, startThreadpool } = await import(process.argv[1]);
startThreadpool();
await new Promise((r) => setTimeout(r, 100));
const main = Number(readlinkSync('/proc/thread-self').split('/').pop());
const nices = () => Object.fromEntries(readdirSync('/proc/self/task').map((t) => [t, getPriority(Number(t))]));
const others = readdirSync('/proc/self/task').map(Number).filter((t) => t !== main);
setPriority(others[0], 15);
const before = nices();
const result = lowerBackgroundThreads(7);
const after = nices();
const worker = new Worker(\`
  const { parentPort } = require('node:worker_threads');
  const { readlinkSync } = require('node:fs');
  const { getPriority } = require('node:os');
  // A worker's argv: [execPath, '[worker eval]', ...argv].
  import(process.argv[2]).then(({ lowerBackgroundThreads }) => {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    parentPort.postMessage({ nice: getPriority(tid), result: lowerBackgroundThreads(3) });
  });
\`, { eval: true, argv: [process.argv[1]], execArgv: [] });
const fromWorker = await new Promise((r) => worker.once('message', r));
await worker.terminate();
console.log(JSON.stringify({ main, result, before, after, fromWorker: fromWorker.result, workerNiceAtStart: fromWorker.nice }));
`;

describe.runIf(process.platform === 'linux')('lowerBackgroundThreads (Linux)', () => {
  it("gives every other thread at least the caller's value plus the increment, never raises one, and leaves the caller and later threads at the caller's", () => {
    const report = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, MODULE], { encoding: 'utf8' })) as ChildReport;
    const callerNice = report.before[String(report.main)];
    expect(callerNice).toBeDefined();
    const target = Math.min(19, (callerNice ?? 0) + 7);
    expect(report.result).toMatchObject({ applied: true, nice: target });
    const others = Object.keys(report.before).filter((tid) => Number(tid) !== report.main);
    // V8's platform workers and libuv's threadpool at least.
    expect(others.length).toBeGreaterThanOrEqual(5);
    expect(report.result.lowered).toBe(others.filter((tid) => (report.before[tid] ?? 0) < target).length);
    for (const tid of others) expect(report.after[tid]).toBe(Math.max(target, report.before[tid] ?? 0));
    expect(Object.values(report.before)).toContain(15);
    expect(report.after[String(report.main)]).toBe(callerNice);
    expect(report.workerNiceAtStart).toBe(callerNice);
    expect(report.fromWorker).toEqual({ applied: false, reason: 'not called on the main thread' });
  });
});
