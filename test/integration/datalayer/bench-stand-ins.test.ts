// The data-layer benchmark's metrics-server stand-ins (bench/datalayer, the C and the Node ones): consecutive
// answers on one connection are valid Prometheus pages whose load gauges change (unless static pages are asked
// for), whole or filtered by `name[]`; they run where they are asked to (this session at the lowest priority, or
// a session of their own). Runs the built stand-ins (dist/), as the benchmark does.
import { readFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../../src/datalayer/prometheus-text.js';
import { restrictExposition } from '../../../src/simulator/name-filter.js';
import { type StandInKind, type StandIns, standInPages, startStandIns } from '../../../bench/datalayer/stand-ins.js';

const GAUGES = ['vllm:num_requests_waiting', 'vllm:num_requests_running', 'vllm:kv_cache_usage_perc'] as const;
const FILTERED = `/metrics?${GAUGES.map((n) => `name%5B%5D=${encodeURIComponent(n)}`).join('&')}`;
const ANSWERS = 5;
/** Linux's SCHED_IDLE policy number, as /proc/<pid>/stat shows it. */
const SCHED_IDLE = 5;

/** Session id, nice value and scheduling policy of a process's main thread, from /proc/<pid>/stat. */
function schedulingOf(pid: number): { session: number; nice: number; policy: number } {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), numbered from 3 (state) as proc(5) numbers them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number): number => Number(fields[n - 3]);
  return { session: field(6), nice: field(19), policy: field(41) };
}

/** Sends `count` requests for `target` one after another on one keep-alive connection; the answers' bodies. */
async function scrapeInTurn(port: number, target: string, count: number): Promise<string[]> {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const bodies: string[] = [];
  let buffered = Buffer.alloc(0);
  try {
    for (let i = 0; i < count; i++) {
      const body = new Promise<string>((resolve, reject) => {
        const onData = (data: Buffer): void => {
          buffered = Buffer.concat([buffered, data]);
          const headEnd = buffered.indexOf('\r\n\r\n');
          if (headEnd === -1) return;
          const head = buffered.toString('latin1', 0, headEnd);
          const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
          if (!head.startsWith('HTTP/1.1 200 ') || Number.isNaN(length)) {
            reject(new Error(`bad head: ${head}`));
            return;
          }
          if (buffered.length < headEnd + 4 + length) return;
          socket.off('data', onData);
          resolve(buffered.toString('utf8', headEnd + 4, headEnd + 4 + length));
          buffered = buffered.subarray(headEnd + 4 + length);
        };
        socket.on('data', onData);
      });
      socket.write(`GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
      bodies.push(await body);
    }
    expect(buffered.length).toBe(0);
    return bodies;
  } finally {
    socket.destroy();
  }
}

function gaugeValues(body: string): number[] {
  const parsed = parsePrometheusText(body);
  expect(parsed.invalidLines).toBe(0);
  return GAUGES.map((name) => {
    const samples = parsed.samples.get(name);
    expect(samples?.length).toBe(1);
    return samples?.[0]?.value ?? Number.NaN;
  });
}

let running: StandIns | undefined;
afterEach(() => {
  running?.stop();
  running = undefined;
});

describe.each<StandInKind>(['c', 'node'])('bench stand-ins (%s)', (kind) => {
  it('changes waiting, running and KV usage on every answer, whole and filtered, each a valid page the stand-ins offer', async () => {
    running = await startStandIns(1, 0, 0, kind);
    if (kind === 'c') expect(running.kind).toBe('c'); // the test host has `cc`: the C ones, not the fallback
    const [port] = running.ports;
    expect(port).toBeDefined();
    const pages = new Set(standInPages());
    expect(pages.size).toBeGreaterThan(1);
    const names = new Set<string>(GAUGES);
    const filteredPages = new Set([...pages].map((page) => restrictExposition(page, names)));
    for (const [target, offered] of [['/metrics', pages], [FILTERED, filteredPages]] as const) {
      const bodies = await scrapeInTurn(port ?? 0, target, ANSWERS);
      const values = bodies.map(gaugeValues);
      for (const body of bodies) expect(offered.has(body)).toBe(true);
      for (let i = 1; i < values.length; i++) {
        for (let g = 0; g < GAUGES.length; g++) expect(values[i]?.[g]).not.toBe(values[i - 1]?.[g]);
      }
      for (const [waiting, runningNow, kv] of values) {
        expect(Number.isInteger(waiting) && waiting !== undefined && waiting >= 0 && waiting <= 20).toBe(true);
        expect(Number.isInteger(runningNow) && runningNow !== undefined && runningNow >= 0 && runningNow <= 64).toBe(true);
        expect(kv !== undefined && kv >= 0 && kv <= 1).toBe(true);
      }
      if (target === FILTERED) for (const body of bodies) expect([...parsePrometheusText(body).samples.keys()].sort()).toEqual([...GAUGES].sort());
    }
  });

  it.runIf(process.platform === 'linux')('runs in this session at the lowest priority by default, in a session of its own as a group', async () => {
    const ours = schedulingOf(process.pid);
    running = await startStandIns(1, 0, 0, kind);
    const idle = schedulingOf(running.pid);
    expect(idle.session).toBe(ours.session);
    if (running.kind === 'c') expect(idle.policy).toBe(SCHED_IDLE);
    else expect(idle.nice).toBe(19);
    running.stop();
    running = await startStandIns(1, 0, 0, kind, { priority: 'group' });
    const group = schedulingOf(running.pid);
    expect(group.session).toBe(running.pid);
    expect(group.session).not.toBe(ours.session);
    expect(group.policy).toBe(ours.policy);
    expect(group.nice).toBe(ours.nice);
  });

  it('serves one unchanging page with static pages', async () => {
    running = await startStandIns(1, 0, 0, kind, { staticPages: true });
    const [port] = running.ports;
    for (const target of ['/metrics', FILTERED]) {
      const bodies = await scrapeInTurn(port ?? 0, target, 3);
      gaugeValues(bodies[0] ?? '');
      expect(new Set(bodies).size).toBe(1);
    }
  });
});

describe('standInPages', () => {
  it('every page differs from the one after it (cyclically) in all three gauges, and the e2e histogram count moves', () => {
    const values = standInPages().map((page) => {
      const parsed = parsePrometheusText(page);
      expect(parsed.invalidLines).toBe(0);
      return [...GAUGES, 'vllm:e2e_request_latency_seconds_count'].map((name) => parsed.samples.get(name)?.[0]?.value);
    });
    for (let i = 0; i < values.length; i++) {
      const next = values[(i + 1) % values.length];
      for (let g = 0; g < 4; g++) expect(values[i]?.[g]).not.toBe(next?.[g]);
    }
    expect(standInPages({ staticPages: true })).toHaveLength(1);
  });
});
