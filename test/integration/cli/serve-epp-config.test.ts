// The Go EPP's flags on the compiled CLI: `fairway serve --config-file <EndpointPickerConfig> --endpoints ...`
// starts, logs what the file asks for that Fairway does differently, and routes through the proxy;
// `--config-text` takes the document itself; `fairway config check` prints the effective configuration or exits
// non-zero naming the field.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type SimulatedPool, startSimulatedPool } from '../../../src/simulator/index.js';
import { TEST_MODEL, completionBody, waitFor } from '../../support/service-harness.js';
import { servingPorts } from '../../support/serving-ports.js';

const CLI = new URL('../../../dist/src/cli/main.js', import.meta.url).pathname;
const FIXTURES = new URL('../../unit/config/epp-fixtures/', import.meta.url).pathname;
const PORT_FLAGS = ['--grpc-port', '0', '--health-port', '0', '--metrics-port', '0', '--proxy-port', '0'];

function serve(args: readonly string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, 'serve', ...args, ...PORT_FLAGS], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  return { child, stderr: () => err };
}

describe('fairway serve with an EndpointPickerConfig (compiled CLI, real process)', () => {
  let pool: SimulatedPool;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
    pool = await startSimulatedPool({ replicas: 2, profile: 'ci', model: TEST_MODEL, host: '127.0.0.1' });
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await pool?.close();
  });

  const endpoints = (): string => pool.servers.map((s) => `${s.host}:${s.port}`).join(',');

  it('--config-file with --endpoints: starts, logs the notices once each, and routes a request', async () => {
    const s = serve(['--config-file', join(FIXTURES, 'llm-d-prefix-decode.yaml'), '--endpoints', endpoints()]);
    children.push(s.child);
    await waitFor('fairway serve to listen', () => servingPorts(s.stderr()) !== undefined, 60_000);
    const ports = servingPorts(s.stderr())!;
    expect(s.stderr()).toContain('EndpointPickerConfig translated');
    expect(s.stderr().match(/decode-filter\): accepted/g)).toHaveLength(1);
    expect(s.stderr()).toContain('"endpoints":2');
    const res = await fetch(`http://127.0.0.1:${ports.proxy}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: completionBody(),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe(TEST_MODEL);
    s.child.kill('SIGTERM');
  }, 90_000);

  it('--config-text takes the document itself', async () => {
    const text = [
      'apiVersion: inference.networking.x-k8s.io/v1alpha1',
      'kind: EndpointPickerConfig',
      'featureGates: [flowControl]',
      'plugins: [{ type: queue-scorer }, { type: concurrency-detector, parameters: { maxConcurrency: 4 } }]',
      'flowControl: { defaultRequestTTL: 5s }',
    ].join('\n');
    const s = serve(['--config-text', text, '--endpoints', endpoints()]);
    children.push(s.child);
    await waitFor('fairway serve to listen', () => servingPorts(s.stderr()) !== undefined, 60_000);
    const ports = servingPorts(s.stderr())!;
    const res = await fetch(`http://127.0.0.1:${ports.proxy}/v1/completions`, { method: 'POST', body: completionBody() });
    expect(res.status).toBe(200);
    s.child.kill('SIGTERM');
  }, 90_000);

  it('refuses to start on a plug-in Fairway lacks, naming it and the nearest equivalent', () => {
    const out = spawnSync(process.execPath, [CLI, 'serve', '--config-text', 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins: [{ type: precise-prefix-cache-scorer }]', ...PORT_FLAGS], {
      encoding: 'utf8',
      // SIGKILL at the bound: when the plug-in became a supported one, the server started, ignored the SIGTERM
      // (graceful shutdown) and spawnSync held a test worker for 18 minutes (the whole suite took 19).
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    expect(out.status, `signal ${String(out.signal)}; stderr: ${out.stderr}`).toBe(1);
    expect(out.stderr).toMatch(/--config-text: plugins\.0\.type: plug-in type "precise-prefix-cache-scorer" has no Fairway equivalent; nearest: prefix-cache-scorer \(approximate/);
  }, 120_000);
});

describe('fairway config check', () => {
  const check = (...args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [CLI, 'config', 'check', ...args], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });

  it('prints the effective Fairway configuration of an EndpointPickerConfig, which validates as a Fairway file', () => {
    const out = check(join(FIXTURES, 'llm-d-flow-control.yaml'));
    expect(out.status).toBe(0);
    expect(String(out.stderr)).toContain('warning: ');
    const effective = parse(String(out.stdout)) as { flowControl: { bands: unknown[]; maxQueuedBytes: unknown }; scheduler: { fallbackEndpoints: number } };
    expect(effective.flowControl.bands).toHaveLength(2);
    expect(effective.scheduler.fallbackEndpoints).toBe(2);
    // The printed YAML is itself a valid Fairway file that means the same.
    const file = join(mkdtempSync(join(tmpdir(), 'fairway-check-')), 'effective.yaml');
    writeFileSync(file, String(out.stdout));
    const again = check(file);
    expect(again.status).toBe(0);
    expect(String(again.stdout)).toBe(String(out.stdout));
  }, 120_000);

  it('checks a Fairway file too, and exits 1 with the field\'s path on error', () => {
    expect(check(new URL('../../../examples/fairway.yaml', import.meta.url).pathname).status).toBe(0);
    const file = join(mkdtempSync(join(tmpdir(), 'fairway-check-')), 'bad.yaml');
    writeFileSync(file, readFileSync(join(FIXTURES, 'llm-d-flow-control.yaml'), 'utf8').replace('defaultRequestTTL: 45s', 'defaultRequestTTL: 45'));
    const out = check(file);
    expect(out.status).toBe(1);
    expect(String(out.stderr)).toMatch(/bad\.yaml: flowControl\.defaultRequestTTL: must be a Go duration/);
    expect(String(out.stdout)).toBe('');
  }, 120_000);
});
