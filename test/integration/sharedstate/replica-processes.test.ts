// Three `fairway serve` processes (the compiled CLI) sharing state through a real redis-server: one paused with
// SIGSTOP drops out of the others' view and rejoins when resumed (its expired data rewritten whole, counted
// once); one killed drops out for good while the others keep serving; and `--workers 2` shares state through
// its primary without Redis, one worker scraping for both, its /metrics summing what adds up and keeping other
// gauges per worker.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatedPool, startSimulatedPool } from '../../../src/simulator/index.js';
import { RedisServer, freePort } from '../../support/redis-server.js';
import { TEST_MODEL, metricValue, waitFor } from '../../support/service-harness.js';

const CLI = new URL('../../../dist/src/cli/main.js', import.meta.url).pathname;

interface Proc {
  readonly child: ChildProcess;
  readonly metricsPort: number;
  readonly proxyPort: number;
}

/** Every child started, for the cleanup. */
const spawned: ChildProcess[] = [];

/** The last lines a child wrote to stderr (its JSON log), for the error when it exits early. */
function stderrTail(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4_000);
  });
  return () => tail;
}

/**
 * One `fairway serve` on port 0 everywhere: the ports it bound are read from its 'fairway serving' log line (a
 * port found free beforehand can be taken by any process on the machine before the child binds it).
 */
async function serveOnFreePorts(configLines: string[]): Promise<Proc> {
  const dir = mkdtempSync(join(tmpdir(), 'fairway-replica-'));
  const config = join(dir, 'fairway.yaml');
  writeFileSync(config, [...configLines, 'server: { host: 127.0.0.1, metricsPort: 0, proxyPort: 0, grpcPort: 0, healthPort: 0, shutdownGraceMs: 500 }', 'logging: { level: info }'].join('\n'));
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  spawned.push(child); // killed after the tests even if it never comes up
  const tail = stderrTail(child);
  return new Promise<Proc>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: string): void => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.includes('"fairway serving"')) continue;
        const ports = (JSON.parse(line) as { ports?: { metrics?: number; proxy?: number } }).ports;
        child.stderr?.off('data', onData);
        child.off('exit', onExit);
        if (ports?.metrics === undefined || ports.proxy === undefined) reject(new Error(`no ports in: ${line}`));
        else resolve({ child, metricsPort: ports.metrics, proxyPort: ports.proxy });
        return;
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`fairway serve exited (${code}) before serving:\n${tail()}`));
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** `fairway serve --workers`: the primary's ports are chosen beforehand (the workers share them). */
async function serve(configLines: string[], extraArgs: string[] = []): Promise<Proc> {
  const dir = mkdtempSync(join(tmpdir(), 'fairway-replica-'));
  const config = join(dir, 'fairway.yaml');
  const metricsPort = await freePort();
  const proxyPort = await freePort();
  writeFileSync(config, [...configLines, `server: { host: 127.0.0.1, metricsPort: ${metricsPort}, proxyPort: ${proxyPort}, grpcPort: 0, healthPort: 0, shutdownGraceMs: 500 }`, 'logging: { level: warn }'].join('\n'));
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, ...extraArgs], { stdio: 'ignore' });
  return { child, metricsPort, proxyPort };
}

async function metrics(p: Proc): Promise<string> {
  try {
    const res = await request(`http://127.0.0.1:${p.metricsPort}/metrics`, { headersTimeout: 3_000, bodyTimeout: 3_000 });
    return await res.body.text();
  } catch {
    return '';
  }
}

async function complete(p: Proc, tenant: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${p.proxyPort}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gateway-inference-fairness-id': tenant },
    body: JSON.stringify({ model: TEST_MODEL, prompt: 'replicas', max_tokens: 2 }),
  });
  await res.body.text();
  return res.statusCode;
}

const peers = async (p: Proc): Promise<number> => metricValue(await metrics(p), 'fairway_shared_state_peers');

describe('replica processes sharing state', () => {
  let redis: RedisServer;
  let pool: SimulatedPool;
  const procs: Proc[] = [];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
    redis = await RedisServer.start();
    pool = await startSimulatedPool({ replicas: 2, profile: 'ci', model: TEST_MODEL, host: '127.0.0.1' });
  });
  afterAll(async () => {
    for (const child of new Set([...spawned, ...procs.map((p) => p.child)])) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await pool?.close();
    await redis?.stop();
  });

  const base = (): string[] => ['pool:', '  endpoints:', ...pool.servers.map((s) => `    - { host: ${s.host}, port: ${s.port} }`)];

  // Generous waits: three Node processes start at once on a shared two-core machine.
  it('a paused replica drops out and rejoins when resumed; a killed one drops out while the others keep serving', { timeout: 180_000 }, async () => {
    // Syncs every 100 ms: a replica's data lives 3 intervals, and at 20 ms (60 ms) three processes on a loaded
    // two-core machine miss their heartbeats often enough that all three rarely see each other at one instant.
    const started = await Promise.all(
      ['r1', 'r2', 'r3'].map((id) =>
        serveOnFreePorts([...base(), `sharedState: { backend: redis, url: "${redis.url}", keyPrefix: "{procs}:", syncIntervalMs: 100, replicaId: ${id} }`]),
      ),
    );
    procs.push(...started);
    const [r1, r2, r3] = procs as [Proc, Proc, Proc];
    await waitFor('three replicas seeing each other', async () => (await peers(r1)) === 2 && (await peers(r2)) === 2 && (await peers(r3)) === 2, 60_000, 100);
    // Exactly one of them scrapes the pool: never two at once, and one once the lease settles (a sample may
    // catch the lease between holders, or a /metrics read timing out on a busy host, and read 0).
    let mostAtOnce = 0;
    await waitFor('one scrape leader', async () => {
      const leaders = await Promise.all(procs.map(async (p) => metricValue(await metrics(p), 'fairway_shared_state_scrape_leader')));
      const sum = leaders.reduce((a, b) => a + b, 0);
      mostAtOnce = Math.max(mostAtOnce, sum);
      return sum === 1;
    }, 30_000, 100);
    expect(mostAtOnce).toBe(1);

    r3.child.kill('SIGSTOP');
    await waitFor('the paused replica gone from the others\' view', async () => (await peers(r1)) === 1 && (await peers(r2)) === 1, 30_000, 100);
    expect(await complete(r1, 'a')).toBe(200);
    r3.child.kill('SIGCONT');
    await waitFor('the resumed replica back', async () => (await peers(r1)) === 2 && (await peers(r3)) === 2, 30_000, 100);

    r2.child.kill('SIGKILL');
    await waitFor('the killed replica gone', async () => (await peers(r1)) === 1 && (await peers(r3)) === 1, 30_000, 100);
    const statuses = await Promise.all([complete(r1, 'a'), complete(r3, 'b'), complete(r1, 'c'), complete(r3, 'd')]);
    expect(statuses).toEqual([200, 200, 200, 200]);
  });

  it('serve --workers 2 shares state through its primary: both workers connected, one scraping, requests served, gauges per worker', { timeout: 120_000 }, async () => {
    const p = await serve([...base(), 'sharedState: { syncIntervalMs: 100 }'], ['--workers', '2']);
    procs.push(p);
    // Gauges that do not add up come once per worker (worker="1", worker="2"), each 1 when connected and
    // seeing the other as its one peer; the scrapers are summed: exactly one of the two scrapes.
    const perWorker = (text: string, name: string): number[] =>
      [...text.matchAll(new RegExp(`^${name}\\{[^}]*worker="(\\d+)"[^}]*\\}\\s+(\\S+)`, 'gm'))].map((m) => Number(m[2]));
    await waitFor('both workers connected through the primary', async () => {
      const text = await metrics(p);
      const up = perWorker(text, 'fairway_shared_state_up');
      const seen = perWorker(text, 'fairway_shared_state_peers');
      return up.length === 2 && up.every((v) => v === 1) && seen.length === 2 && seen.every((v) => v === 1);
    }, 60_000, 100);
    await waitFor('one scraper', async () => {
      const text = await metrics(p);
      return metricValue(text, 'fairway_shared_state_scrape_leader') === 1 && !/^fairway_shared_state_scrape_leader\{[^}]*worker=/m.test(text);
    }, 30_000, 100);
    const statuses = await Promise.all(Array.from({ length: 6 }, (_, i) => complete(p, `t${i}`)));
    expect(statuses).toEqual(Array(6).fill(200));
    // Counters add up over the workers: the six requests are counted once each, whichever worker served them.
    await waitFor('requests counted once', async () => metricValue(await metrics(p), 'inference_objective_request_total') === 6, 10_000, 100);
  });
});
