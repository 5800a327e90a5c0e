// The scrape worker lowers its own thread's priority; libuv's threadpool (this process's fs, dns, crypto and zlib
// work) must not end up at that lowered priority. Linux gives a new thread its creator's nice value and the pool
// makes its threads when work is first queued on it, so a worker that queued first (a dns.lookup for a hostname
// endpoint) after lowering its priority would leave every pool thread there. Run in a fresh process whose entry
// is CommonJS and which loads Fairway through require(), so its main thread has not started the pool by loading
// modules. (On Node 20 the worker's own module loading also starts the pool before it lowers its priority; this
// test pins the outcome whichever way the pool was started.)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../../../dist/src/', import.meta.url));

const child = `
const fs = require('node:fs');
const nice = () => fs.readdirSync('/proc/self/task').map((tid) => {
  const stat = fs.readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
});
const { PoolMonitor, StaticEndpointSource } = require(${JSON.stringify(`${dist}datalayer/index.js`)});
const { SystemClock } = require(${JSON.stringify(`${dist}core/index.js`)});
const before = nice();
let done = false;
const monitor = new PoolMonitor({
  // A hostname: the worker resolves it through the threadpool. Port 9 (discard) is closed on loopback.
  source: new StaticEndpointSource([{ host: 'localhost', port: 9 }]),
  clock: new SystemClock(),
  scrapeThread: 'worker',
  scrapeWorkerNice: 7,
  observer: { onScrapeFailure: () => {
    if (done) return;
    done = true;
    const after = nice();
    void monitor.close().then(() => console.log(JSON.stringify({ before, after })));
  } },
});
void monitor.start();
setTimeout(() => { if (!done) { console.log(JSON.stringify({ timeout: true })); process.exit(1); } }, 10000).unref();
`;

describe('scrape worker priority and the threadpool', () => {
  it.runIf(process.platform === 'linux')('leaves every thread but the scrape worker at the process nice value after the worker resolved a hostname endpoint', () => {
    const run = spawnSync(process.execPath, ['--experimental-require-module', '--no-warnings', '-e', child], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    const { before, after } = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { before: number[]; after: number[] };
    const base = before[0] ?? 0;
    expect(before.every((n) => n === base)).toBe(true);
    // The worker and the pool's threads (4 unless UV_THREADPOOL_SIZE says otherwise) came during the run.
    expect(after.length).toBeGreaterThanOrEqual(before.length + 2);
    expect(after.filter((n) => n !== base)).toEqual([Math.min(19, base + 7)]);
  });
});
