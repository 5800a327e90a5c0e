// `fairway serve` loads the OpenTelemetry SDK only when spans are exported and ioredis only for the Redis backend
// (both on demand, as the Kubernetes client is): a static pool without tracing carries neither. Each run is the
// compiled CLI with a preloaded probe that lists, at exit, which of those packages Node loaded (all are CommonJS,
// so Node's require cache names them).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/service-harness.js';

const CLI = new URL('../../../dist/src/cli/main.js', import.meta.url).pathname;
const WATCHED = ['ioredis', '@opentelemetry/sdk-trace-node', '@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-trace-otlp-http'];

const PROBE = `
import { createRequire } from 'node:module';
import { writeSync } from 'node:fs';
const cache = createRequire(import.meta.url).cache;
const watched = ${JSON.stringify(WATCHED)};
process.on('exit', () => {
  const loaded = watched.filter((p) => Object.keys(cache).some((k) => k.includes('/node_modules/' + p + '/')));
  writeSync(2, 'PROBE ' + JSON.stringify(loaded) + '\\n');
});
`;

describe('fairway serve loads optional clients on demand (compiled CLI, real process)', () => {
  let child: ChildProcess | undefined;
  const dirs: string[] = [];
  afterEach(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function loadedBy(configLines: readonly string[]): Promise<string[]> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
    const dir = mkdtempSync(join(tmpdir(), 'fairway-on-demand-'));
    dirs.push(dir);
    const probe = join(dir, 'probe.mjs');
    writeFileSync(probe, PROBE);
    const config = join(dir, 'fairway.yaml');
    writeFileSync(config, ['pool:', '  endpoints: [{ host: 127.0.0.1, port: 9 }]', 'server: { host: 127.0.0.1 }', ...configLines].join('\n'));
    const proc = spawn(process.execPath, ['--import', probe, CLI, 'serve', '--config', config, '--grpc-port', '0', '--health-port', '0', '--metrics-port', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    await waitFor('fairway serve to listen', () => stderr.includes('fairway serving'), 60_000);
    proc.kill('SIGTERM');
    expect(await exit).toBe(0);
    const line = stderr.split('\n').find((l) => l.startsWith('PROBE '));
    expect(line).toBeDefined();
    return JSON.parse(line!.slice('PROBE '.length)) as string[];
  }

  it('a static pool with tracing off loads neither ioredis nor the OpenTelemetry SDK', async () => {
    expect(await loadedBy([])).toEqual([]);
  }, 120_000);

  it('the Redis backend loads ioredis, and an exporter loads the SDK', async () => {
    // Nothing listens on port 1: the replica serves local-only, which is all this needs.
    const loaded = await loadedBy(['sharedState: { backend: redis, url: "redis://127.0.0.1:1" }', 'tracing: { exporter: otlp, otlpEndpoint: "http://127.0.0.1:1/v1/traces" }']);
    expect(loaded).toEqual(WATCHED);
  }, 120_000);
});
