// `fairway serve` as a real process: it starts from a YAML file, queues requests while the pool is full, and on
// SIGTERM answers every queued request 503 shutdown and exits 0. Runs the compiled CLI (`npm test` builds first).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimulatedPool, startSimulatedPool } from '../../../src/simulator/index.js';
import { EnvoyExtProcClient, immediateOf } from '../../support/envoy-ext-proc-client.js';
import { TEST_MODEL, completionBody, inferenceHeaders, openRequest, streamStatus, waitFor } from '../../support/service-harness.js';
import { servingPorts } from '../../support/serving-ports.js';

const CLI = new URL('../../../dist/src/cli/main.js', import.meta.url).pathname;

describe('fairway serve (compiled CLI, real process)', () => {
  let pool: SimulatedPool;
  let child: ChildProcess;
  let stderr = '';
  let exit: Promise<number | null>;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
    pool = await startSimulatedPool({ replicas: 2, profile: 'ci', model: TEST_MODEL, host: '127.0.0.1', fakeMetrics: { waiting: 100, running: 32, kvUsage: 0.9 } });
    const dir = mkdtempSync(join(tmpdir(), 'fairway-serve-'));
    const config = join(dir, 'fairway.yaml');
    writeFileSync(
      config,
      [
        'pool:',
        '  endpoints:',
        ...pool.servers.map((s) => `    - { host: ${s.host}, port: ${s.port} }`),
        'objectives: { interactive: 10, batch: -1 }',
        'server: { host: 127.0.0.1, shutdownGraceMs: 2000 }',
        'logging: { level: info }',
      ].join('\n'),
    );
    child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--grpc-port', '0', '--health-port', '0', '--metrics-port', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor('fairway serve to listen', () => servingPorts(stderr) !== undefined, 60_000); // a Node start on a loaded machine
  }, 90_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await pool?.close();
  });

  it('answers queued requests 503 shutdown on SIGTERM and exits 0', async () => {
    const ports = servingPorts(stderr);
    expect(ports).toBeDefined();
    const client = new EnvoyExtProcClient(`127.0.0.1:${ports!.grpc}`);
    try {
      // The pool reports itself full (and counts as saturated before its first scrape), so both requests wait.
      const queued = ['batch', 'interactive'].map((objective) =>
        openRequest(client, inferenceHeaders('tenant-sigterm', objective), completionBody({ prompt: objective })),
      );
      await waitFor('two requests queued', async () => (await countQueued(ports!.metrics)) === 2, 30_000);
      child.kill('SIGTERM');
      for (const s of queued) {
        const imm = immediateOf(await s.expectNext());
        expect(imm?.status).toBe(503);
        expect(imm?.headers.get('x-fairway-drop-reason')).toBe('shutdown');
        expect(imm?.headers.get('retry-after')).toBeDefined();
        expect((await streamStatus(s)).code).toBe(0);
      }
      expect(await exit).toBe(0);
      expect(stderr).toContain('shutting down');
    } finally {
      client.close();
    }
  });
});

async function countQueued(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^inference_extension_flow_control_queue_size\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}
