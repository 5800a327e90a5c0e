// `fairway top` (the compiled CLI) against a running FairwayServer: plain text once when stdout is a pipe, a
// refreshing full-screen table on a terminal (a pseudo-terminal from script(1)) that quits on `q`, and the admin
// token taken from --token or FAIRWAY_ADMIN_TOKEN.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceHarness, startService, waitFor, waitForScrape } from '../../support/service-harness.js';

const CLI = path.resolve(import.meta.dirname, '../../../dist/src/cli/main.js');

function run(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, FAIRWAY_ADMIN_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('fairway top', () => {
  let h: ServiceHarness;
  let secured: ServiceHarness;
  const token = 'top-secret-token';

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
    h = await startService({ replicas: 2 });
    secured = await startService({ replicas: 1, config: { server: { admin: { token } } } });
    await waitForScrape(h.server, h.ids, () => true);
  });
  afterAll(async () => {
    await h?.close();
    await secured?.close();
  });

  // Each case starts the compiled CLI (about a second of start-up, far more on a busy shared machine).
  it('prints the snapshot once as plain text when stdout is not a terminal', { timeout: 60_000 }, async () => {
    const r = await run(['top', '--url', `http://127.0.0.1:${h.ports.metrics}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Fairway \d+\.\d+\.\d+ · up /);
    expect(r.stdout).toContain('saturation ');
    for (const id of h.ids) expect(r.stdout).toContain(id);
    expect(r.stdout).toMatch(/^BAND\s+PRIORITY\s+QUEUED/m);
    expect(r.stdout).toMatch(/^ENDPOINT\s+KV CACHE/m);
    expect(r.stdout.includes('\u001b')).toBe(false);
  });

  it('needs the token of a protected admin port, from --token or FAIRWAY_ADMIN_TOKEN', { timeout: 120_000 }, async () => {
    const url = `http://127.0.0.1:${secured.ports.metrics}/status`;
    const denied = await run(['top', '--url', url]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('needs the admin token');
    const flag = await run(['top', '--url', url, '--token', token]);
    expect(flag.code).toBe(0);
    expect(flag.stdout).toContain('BAND');
    const env = await run(['top', '--url', url], { FAIRWAY_ADMIN_TOKEN: token });
    expect(env.code).toBe(0);
    expect(env.stdout).toContain('BAND');
  });

  it('fails with a clear message when nothing answers', { timeout: 60_000 }, async () => {
    const r = await run(['top', '--url', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fairway: /);
  });

  it('on a terminal, redraws the table in place every interval and quits on q', { timeout: 90_000 }, async () => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} top --url http://127.0.0.1:${h.ports.metrics} --interval 300`;
    // script(1) gives the command a pseudo-terminal; its stdin is the terminal's keyboard.
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '160', LINES: '60', FAIRWAY_ADMIN_TOKEN: '' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const snapshots = (): number[] => [...out.matchAll(/snapshot (\d+)/g)].map((m) => Number(m[1]));
    try {
      await waitFor('three redraws', () => new Set(snapshots()).size >= 3, 60_000);
    } finally {
      child.stdin.write('q');
    }
    expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))])).toBe(0);
    // Alternate screen in and out, cursor hidden then shown, redraws from the home position.
    expect(out).toContain('\x1b[?1049h');
    expect(out).toContain('\x1b[?1049l');
    expect(out).toContain('\x1b[?25h');
    expect(out.split('\x1b[H').length - 1).toBeGreaterThanOrEqual(3);
    const seqs = snapshots();
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const id of h.ids) expect(out).toContain(id);
  });
});
