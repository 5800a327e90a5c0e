// `fairway demo` (what `npm start` runs), driven through commander in-process: it starts a simulated pool with
// Fairway in front, prints where everything listens, serves requests, runs a scenario to its final table, and
// shuts everything down when asked to exit.
import { Command } from 'commander';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerDemoCommand } from '../../../src/cli/demo-command.js';
import { DEMO_MODEL } from '../../../src/cli/demo-config.js';
import { waitFor } from '../../support/service-harness.js';

const PORT_FLAGS = ['--proxy-port', '0', '--grpc-port', '0', '--health-port', '0', '--metrics-port', '0'];

let lines: string[];
let written: string[];

beforeEach(() => {
  lines = [];
  written = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  // The scenario's live progress line goes to stdout directly.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

function demo(args: readonly string[]): Promise<Command> {
  const program = new Command().name('fairway').exitOverride();
  registerDemoCommand(program);
  return program.parseAsync(['node', 'fairway', 'demo', ...args]);
}

interface Printout {
  readonly proxy: string;
  readonly grpcPort: number;
  readonly healthPort: number;
  readonly metrics: string;
  readonly modelServers: readonly string[];
}

/** The listening addresses from the demo's printout, or undefined until it is complete. */
function printout(): Printout | undefined {
  const find = (re: RegExp): RegExpExecArray | undefined => lines.map((l) => re.exec(l)).find((m) => m !== null) ?? undefined;
  const proxy = find(/proxy \(OpenAI\)\s+(http:\/\/127\.0\.0\.1:(\d+))\/v1\/completions/);
  const grpc = find(/ext_proc \(Envoy\)\s+127\.0\.0\.1:(\d+)/);
  const health = find(/gRPC health\s+127\.0\.0\.1:(\d+)/);
  const metrics = find(/metrics\s+(http:\/\/127\.0\.0\.1:(\d+))\/metrics/);
  if (proxy === undefined || grpc === undefined || health === undefined || metrics === undefined) return undefined;
  const modelServers = lines.flatMap((l) => /model server\s+http:\/\/(127\.0\.0\.1:\d+)/.exec(l)?.[1] ?? []);
  return { proxy: proxy[1]!, grpcPort: Number(grpc[1]), healthPort: Number(health[1]), metrics: metrics[1]!, modelServers };
}

describe('fairway demo', () => {
  it('starts, prints where everything listens, and with --exit shuts every port down again', async () => {
    await demo(['--exit', '--replicas', '2', '--time-scale', '1', ...PORT_FLAGS]);
    const p = printout();
    expect(p, lines.join('\n')).toBeDefined();
    expect(lines[0]).toContain('2 simulated vLLM servers');
    expect(lines[0]).toContain(DEMO_MODEL);
    expect(p!.modelServers).toHaveLength(2);
    for (const port of [p!.proxy, p!.metrics].map((u) => Number(new URL(u).port)).concat(p!.grpcPort, p!.healthPort)) {
      expect(port).toBeGreaterThan(0);
    }
    expect(lines.some((l) => l.startsWith('Try: curl'))).toBe(true);
    // Everything it opened is closed again.
    await expect(request(`${p!.metrics}/healthz`)).rejects.toThrow();
    await expect(request(`${p!.proxy}/v1/completions`, { method: 'POST', body: '{}' })).rejects.toThrow();
    for (const server of p!.modelServers) await expect(request(`http://${server}/metrics`)).rejects.toThrow();
  });

  it('serves requests and runs the overload scenario to its final per-class table', async () => {
    const run = demo(['--scenario', 'overload', '--duration-scale', '0.15', '--exit', '--replicas', '2', '--time-scale', '1', ...PORT_FLAGS]);
    let failed: unknown;
    run.catch((err: unknown) => (failed = err));
    await waitFor('the demo printout', () => printout() !== undefined || failed !== undefined, 10_000);
    expect(failed).toBeUndefined();
    const p = printout()!;

    // While the scenario runs, a request through the printed proxy address is served by a simulated pod.
    expect((await request(`${p.metrics.replace('/metrics', '')}/readyz`)).statusCode).toBe(200);
    const res = await request(`${p.proxy}/v1/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gateway-inference-objective': 'interactive',
        'x-gateway-inference-fairness-id': 'tenant-a',
      },
      body: JSON.stringify({ model: DEMO_MODEL, prompt: 'Hello', max_tokens: 4, ignore_eos: true }),
    });
    expect(res.statusCode).toBe(200);
    const json = (await res.body.json()) as { model: string; usage: { completion_tokens: number } };
    expect(json.model).toBe(DEMO_MODEL);
    expect(json.usage.completion_tokens).toBe(4);

    await run;
    expect(lines.some((l) => l.includes('Scenario "overload"'))).toBe(true);
    const table = lines.find((l) => l.startsWith('| class |'));
    expect(table, lines.join('\n')).toBeDefined();
    const rows = table!.split('\n').filter((r) => r.startsWith('| ') && !r.startsWith('| class'));
    const byClass = new Map(rows.map((r) => {
      const cells = r.split('|').map((c) => c.trim());
      return [cells[1], { sent: Number(cells[2]), completed: Number(cells[3]) }] as const;
    }));
    expect([...byClass.keys()].sort()).toEqual(['batch', 'interactive']);
    for (const [, row] of byClass) {
      expect(row.sent).toBeGreaterThan(0);
      expect(row.completed).toBeLessThanOrEqual(row.sent);
    }
    expect(byClass.get('interactive')!.completed).toBeGreaterThan(0);
    // The live progress line was drawn.
    expect(written.join('')).toMatch(/done=\s*\d+\s+ok=/);
    // And --exit shut it down.
    await expect(request(`${p.proxy}/v1/completions`, { method: 'POST', body: '{}' })).rejects.toThrow();
  });

  it('refuses an unknown scenario before starting anything, naming the known ones', async () => {
    await expect(demo(['--scenario', 'no-such-scenario', '--exit', ...PORT_FLAGS])).rejects.toThrow(
      /unknown scenario "no-such-scenario"; known: overload, noisy-tenant, weighted/,
    );
    expect(lines).toEqual([]);
  });
});
