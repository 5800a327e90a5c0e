// `fairway serve` reloads its file on SIGHUP as a real process: a valid change applies (and names the restart-only
// field it could not apply), an invalid file keeps the running configuration and logs the precise field, and the
// reload counter counts both. Runs the compiled CLI (`npm test` builds first).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, waitFor } from '../../support/service-harness.js';

const CLI = new URL('../../../dist/src/cli/main.js', import.meta.url).pathname;

function configText(priority: number, grpcPort: number, extra = ''): string {
  return ['pool: { endpoints: [{ host: 127.0.0.1, port: 1 }] }', `objectives: { chat: ${priority} }`, `server: { host: 127.0.0.1, grpcPort: ${grpcPort}, healthPort: 0, metricsPort: 0 }`, 'logging: { level: info }', extra].join('\n');
}

describe('fairway serve: SIGHUP reload (compiled CLI, real process)', () => {
  let child: ChildProcess;
  let stderr = '';
  let file: string;
  let metricsPort: number;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
    file = join(mkdtempSync(join(tmpdir(), 'fairway-reload-')), 'fairway.yaml');
    writeFileSync(file, configText(1, 0));
    child = spawn(process.execPath, [CLI, 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    await waitFor('fairway serve to listen', () => stderr.includes('fairway serving'), 60_000); // a Node start on a loaded machine
    const line = stderr.split('\n').find((l) => l.includes('fairway serving')) as string;
    metricsPort = (JSON.parse(line) as { ports: { metrics: number } }).ports.metrics;
  }, 90_000);

  afterAll(() => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  });

  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

  it('applies a valid change and names the restart-only field it keeps', async () => {
    writeFileSync(file, configText(7, 9999));
    child.kill('SIGHUP');
    await waitFor('reload logged', () => stderr.includes('configuration reloaded'), 10_000);
    expect(stderr).toMatch(/"fields":\["server\.grpcPort"\].*take effect only after a restart/);
    expect(stderr).toMatch(/"result":"applied","changed":\["objectives"\]/);
    expect(metricValue(await metrics(), 'fairway_config_reloads_total', { result: 'applied' })).toBe(1);
  });

  it('keeps running on an invalid file and logs the field at fault', async () => {
    writeFileSync(file, configText(7, 0, 'flowControl: { defaultTtlMs: -5 }'));
    child.kill('SIGHUP');
    await waitFor('rejection logged', () => stderr.includes('configuration reload rejected'), 10_000);
    expect(stderr).toMatch(/flowControl\.defaultTtlMs/);
    expect(child.exitCode).toBeNull();
    expect(metricValue(await metrics(), 'fairway_config_reloads_total', { result: 'invalid' })).toBe(1);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);
  });
});
