// Scraping on a worker thread against real HTTP servers on 127.0.0.1: the dispatch thread gets the same metrics
// and failure reasons as in-thread scraping, endpoints come and go with their sockets, close() ends the thread,
// and `auto` moves scraping to the worker once the pool is large; a burst of batches is applied a bounded number
// of outcomes per loop turn, in order. Needs the compiled worker (npm test builds it).
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, SystemClock } from '../../../src/core/index.js';
import {
  type EndpointSnapshot,
  type ScrapeFailureReason,
  AUTO_WORKER_ENDPOINTS,
  PoolMonitor,
  StaticEndpointSource,
  WorkerScrapeRunner,
  VLLM_METRICS,
} from '../../../src/datalayer/index.js';
import { type FromWorker, APPLY_PER_TURN, APPLY_STEP, APPLY_TURN_MS, MERGE_ABOVE, OutcomeBatchWriter } from '../../../src/datalayer/scrape-wire.js';
import { RecordingLogger } from '../../unit/datalayer/fakes.js';
import { LoopbackServer, waitFor } from './loopback-server.js';

const PAGE = `# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="m"} 2
vllm:num_requests_running{model_name="m"} 5
vllm:kv_cache_usage_perc{model_name="m"} 0.4
vllm:lora_requests_info{max_lora="3",running_lora_adapters="a,b",waiting_lora_adapters="c"} 1.7e9
vllm:cache_config_info{block_size="16",num_gpu_blocks="1000"} 1
`;

/** Serves PAGE (or whatever `body` and `status` say now). */
class PageServer extends LoopbackServer {
  body = PAGE;
  status = 200;

  constructor() {
    super((_req, res) => {
      res.statusCode = this.status;
      res.end(this.body);
    });
  }
}

const servers: PageServer[] = [];
const monitors: PoolMonitor[] = [];

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startServers(n: number): Promise<PageServer[]> {
  const list = await Promise.all(Array.from({ length: n }, () => new PageServer().listen()));
  servers.push(...list);
  return list;
}

function monitorFor(list: PageServer[], scrapeThread: 'worker' | 'auto', scrapeWorkerNice?: number) {
  const source = new StaticEndpointSource(list.map((s) => ({ host: '127.0.0.1', port: s.port })));
  const failures: ScrapeFailureReason[] = [];
  const logger = new RecordingLogger();
  let scraped = 0;
  const monitor = new PoolMonitor({
    source,
    clock: new SystemClock(),
    logger,
    scrapeIntervalMs: 20,
    staleAfterMs: 2_000,
    scrapeThread,
    ...(scrapeWorkerNice !== undefined ? { scrapeWorkerNice } : {}),
    observer: { onScrapeFailure: (_id, reason) => failures.push(reason) },
    scrapeListener: { markScraped: () => void scraped++ },
  });
  monitors.push(monitor);
  const endpoint = (s: PageServer): EndpointSnapshot | undefined => monitor.pool.current().endpoints.find((e) => e.port === s.port);
  return { monitor, source, failures, logger, endpoint, scraped: () => scraped };
}

describe('scraping on a worker thread', () => {
  it('publishes the same metrics as in-thread scraping, with send and receive times in this thread\'s clock', async () => {
    const [server] = await startServers(1);
    const m = monitorFor([server!], 'worker');
    const before = performance.now();
    await m.monitor.start();
    await waitFor('fresh', () => m.endpoint(server!)?.stale === false);
    expect(m.monitor.scrapingOnWorker).toBe(true);
    const e = m.endpoint(server!)!;
    expect(e.metrics).toEqual({
      waitingQueue: 2,
      runningRequests: 5,
      kvCacheUsage: 0.4,
      loraRunning: ['a', 'b'],
      loraWaiting: ['c'],
      maxLora: 3,
      kvBlockSize: 16,
      kvNumBlocks: 1000,
    });
    expect(e.scrapedAt).toBeGreaterThanOrEqual(before);
    expect(e.scrapedAt).toBeLessThanOrEqual(performance.now());
    // LoRA lists change: the new lists arrive (they are sent only when they change).
    server!.body = PAGE.replace('running_lora_adapters="a,b"', 'running_lora_adapters="z"');
    await waitFor('new LoRA list', () => m.endpoint(server!)?.metrics?.loraRunning[0] === 'z');
    const scrapes = m.scraped();
    await waitFor('keeps scraping', () => m.scraped() >= scrapes + 3);
  });

  it('reports failures with their reason and recovers; log lines come through this thread\'s logger', async () => {
    const [server] = await startServers(1);
    const m = monitorFor([server!], 'worker');
    await m.monitor.start();
    await waitFor('fresh', () => m.endpoint(server!)?.stale === false);
    server!.status = 503;
    await waitFor('http-status failure', () => m.failures.includes('http-status'));
    expect(m.endpoint(server!)).toMatchObject({ stale: true, scrapeFailure: { reason: 'http-status' } });
    expect(m.logger.entries.some((e) => e.level === 'warn' && (e.obj as { reason?: string }).reason === 'http-status')).toBe(true);
    server!.status = 200;
    await waitFor('fresh again', () => m.endpoint(server!)?.stale === false);
    expect(m.endpoint(server!)?.scrapeFailure).toBeUndefined();
  });

  it('adding and removing endpoints opens and closes their sockets; close() leaves no socket open', async () => {
    const [a, b] = await startServers(2);
    const m = monitorFor([a!], 'worker');
    await m.monitor.start();
    await waitFor('a scraped', () => a!.requests >= 2);
    m.source.set([a!, b!].map((s) => ({ host: '127.0.0.1', port: s.port })));
    await waitFor('b scraped', () => b!.requests >= 2 && m.endpoint(b!)?.stale === false);
    m.source.set([{ host: '127.0.0.1', port: a!.port }]);
    await waitFor('b socket closed', () => b!.sockets.size === 0);
    const bRequests = b!.requests;
    await waitFor('a scraped more', () => a!.requests >= bRequests + 5 || a!.requests >= 30);
    expect(b!.requests).toBe(bRequests);
    expect(m.monitor.pool.current().endpoints.map((e) => e.port)).toEqual([a!.port]);
    await m.monitor.close();
    await waitFor('a socket closed', () => a!.sockets.size === 0);
  });

  it(`auto: scrapes on this thread below ${AUTO_WORKER_ENDPOINTS} endpoints and moves to a worker when the pool reaches it`, async () => {
    const list = await startServers(AUTO_WORKER_ENDPOINTS);
    const m = monitorFor(list.slice(0, 2), 'auto');
    await m.monitor.start();
    await waitFor('small pool fresh', () => m.monitor.pool.current().endpoints.every((e) => !e.stale));
    expect(m.monitor.scrapingOnWorker).toBe(false);
    m.source.set(list.map((s) => ({ host: '127.0.0.1', port: s.port })));
    expect(m.monitor.scrapingOnWorker).toBe(true);
    await waitFor('whole pool fresh', () => m.monitor.pool.current().endpoints.every((e) => !e.stale));
    // The first two endpoints' in-thread sockets were closed; each server now holds exactly one connection.
    await waitFor('one socket per server', () => list.every((s) => s.sockets.size === 1));
    expect(m.logger.lines('info')).toContain('metrics scraping moved to a worker thread');
  });

  it('applies a burst of batches at most APPLY_PER_TURN outcomes a turn (at least APPLY_STEP), every outcome once and in arrival order', async () => {
    const applied: string[][] = [];
    const runner = new WorkerScrapeRunner({
      timing: { intervalMs: 60_000, timeoutMs: 1_000 },
      clock: new SystemClock(),
      logger: new RecordingLogger(),
      onBatch: (apply) => {
        const ids: string[] = [];
        apply((id) => ids.push(id), () => undefined);
        applied.push(ids);
      },
    });
    try {
      const total = 2 * APPLY_PER_TURN + 10;
      // Slots are handed out from 1 in the order jobs are added; the first scrapes are an hour away.
      for (let i = 0; i < total; i++) {
        runner.add({ id: `e${i}`, target: { host: '127.0.0.1', port: 9, path: '/metrics' }, names: VLLM_METRICS, initialDelayMs: 3_600_000 });
      }
      // What the worker would send after a long loop turn: three batches arriving together.
      const writer = new OutcomeBatchWriter(performance.timeOrigin);
      const deliver = (runner as unknown as { onMessage(message: FromWorker): void }).onMessage.bind(runner);
      for (const [from, to] of [[0, APPLY_PER_TURN + 5], [APPLY_PER_TURN + 5, APPLY_PER_TURN + 7], [APPLY_PER_TURN + 7, total]] as const) {
        for (let i = from; i < to; i++) writer.add(i + 1, { ok: false, reason: 'connect', detail: 'refused', startedAt: 1, finishedAt: 2 });
        const { nums, extras } = writer.take();
        deliver({ kind: 'outcomes', nums, extras });
      }
      expect(applied).toEqual([]); // applied in a later phase of the loop turn, not inside the message handler
      await waitFor('burst applied', () => applied.flat().length === total);
      expect(applied.flat()).toEqual(Array.from({ length: total }, (_, i) => `e${i}`));
      // At most APPLY_PER_TURN a turn, fewer once APPLY_TURN_MS are spent (the wall clock decides how many: a cold
      // first turn here may stop early), but never fewer than a step while that many wait.
      let left = total;
      for (const ids of applied) {
        expect(ids.length).toBeLessThanOrEqual(APPLY_PER_TURN);
        expect(ids.length).toBeGreaterThanOrEqual(Math.min(APPLY_STEP, left));
        left -= ids.length;
      }
    } finally {
      await runner.close();
    }
  });

  it('a turn stops at APPLY_PER_TURN while the clock shows no time spent, and after one step of APPLY_STEP when a step takes longer than APPLY_TURN_MS', async () => {
    /** The system clock's timers, with a `now` that moves only as told (each call adds `step` ms). */
    class SteppedClock extends SystemClock {
      private t = 0;
      constructor(private readonly step: number) {
        super();
      }
      override now(): number {
        return (this.t += this.step);
      }
    }
    const turns = async (clock: SystemClock): Promise<number[]> => {
      const applied: number[] = [];
      const runner = new WorkerScrapeRunner({
        timing: { intervalMs: 60_000, timeoutMs: 1_000 },
        clock,
        logger: new RecordingLogger(),
        onBatch: (apply) => {
          let n = 0;
          apply(() => n++, () => undefined);
          applied.push(n);
        },
      });
      try {
        const total = APPLY_PER_TURN + 10;
        for (let i = 0; i < total; i++) {
          runner.add({ id: `e${i}`, target: { host: '127.0.0.1', port: 9, path: '/metrics' }, names: VLLM_METRICS, initialDelayMs: 3_600_000 });
        }
        const writer = new OutcomeBatchWriter(performance.timeOrigin);
        for (let i = 0; i < total; i++) writer.add(i + 1, { ok: false, reason: 'connect', detail: 'refused', startedAt: 1, finishedAt: 2 });
        const { nums, extras } = writer.take();
        (runner as unknown as { onMessage(message: FromWorker): void }).onMessage({ kind: 'outcomes', nums, extras });
        await waitFor('all applied', () => applied.reduce((a, b) => a + b, 0) === total);
        return applied;
      } finally {
        await runner.close();
      }
    };
    expect(await turns(new SteppedClock(0))).toEqual([APPLY_PER_TURN, 10]);
    const stepped = await turns(new SteppedClock(5 * APPLY_TURN_MS));
    expect(stepped.slice(0, -1).every((n) => n === APPLY_STEP)).toBe(true);
    expect(stepped.reduce((a, b) => a + b, 0)).toBe(APPLY_PER_TURN + 10);
  });

  it('a flood beyond MERGE_ABOVE is merged per endpoint: each endpoint gets its newest outcome, the rest reach the listener as counts', async () => {
    const applied = new Map<string, string>();
    const counted = new Map<string, number>();
    let emitted = 0;
    const runner = new WorkerScrapeRunner({
      timing: { intervalMs: 60_000, timeoutMs: 1_000 },
      clock: new SystemClock(),
      logger: new RecordingLogger(),
      onBatch: (apply) =>
        apply(
          (id, outcome) => {
            emitted++;
            applied.set(id, outcome.ok ? 'ok' : outcome.detail);
          },
          (id, kind, n) => counted.set(`${id} ${kind}`, (counted.get(`${id} ${kind}`) ?? 0) + n),
        ),
    });
    try {
      const endpoints = 10;
      for (let i = 0; i < endpoints; i++) {
        runner.add({ id: `e${i}`, target: { host: '127.0.0.1', port: 9, path: '/metrics' }, names: VLLM_METRICS, initialDelayMs: 3_600_000 });
      }
      const writer = new OutcomeBatchWriter(performance.timeOrigin);
      const deliver = (runner as unknown as { onMessage(message: FromWorker): void }).onMessage.bind(runner);
      // Rounds of one failure per endpoint, all arriving in one turn: far more than MERGE_ABOVE.
      const rounds = Math.ceil((2 * MERGE_ABOVE) / endpoints);
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < endpoints; i++) writer.add(i + 1, { ok: false, reason: 'connect', detail: `round ${r}`, startedAt: r, finishedAt: r });
        const { nums, extras } = writer.take();
        deliver({ kind: 'outcomes', nums, extras });
      }
      await waitFor('flood applied', () => applied.size === endpoints);
      for (let i = 0; i < endpoints; i++) {
        expect(applied.get(`e${i}`)).toBe(`round ${rounds - 1}`);
        // All arrived in one turn, so all were merged: the newest applied, the rest counted by reason.
        expect(counted.get(`e${i} connect`)).toBe(rounds - 1);
      }
      // Every outcome reached the listener once: applied or counted.
      expect(emitted).toBe(endpoints);
      expect([...counted.values()].reduce((a, b) => a + b, 0) + emitted).toBe(rounds * endpoints);
    } finally {
      await runner.close();
    }
  });

  it('a batch listener that takes nothing (its monitor closing) drops the backlog rather than being asked again each turn', async () => {
    let asked = 0;
    const runner = new WorkerScrapeRunner({
      timing: { intervalMs: 60_000, timeoutMs: 1_000 },
      clock: new SystemClock(),
      logger: new RecordingLogger(),
      onBatch: () => void asked++,
    });
    try {
      for (let i = 0; i < 3 * APPLY_PER_TURN; i++) {
        runner.add({ id: `e${i}`, target: { host: '127.0.0.1', port: 9, path: '/metrics' }, names: VLLM_METRICS, initialDelayMs: 3_600_000 });
      }
      const writer = new OutcomeBatchWriter(performance.timeOrigin);
      for (let i = 0; i < 3 * APPLY_PER_TURN; i++) writer.add(i + 1, { ok: false, reason: 'connect', detail: 'refused', startedAt: 1, finishedAt: 2 });
      const { nums, extras } = writer.take();
      (runner as unknown as { onMessage(message: FromWorker): void }).onMessage({ kind: 'outcomes', nums, extras });
      await waitFor('asked once', () => asked === 1);
      // Several loop turns later it has not been asked again.
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(asked).toBe(1);
    } finally {
      await runner.close();
    }
  });

  it('refuses a worker thread with an injected clock (times cross threads as wall-clock milliseconds)', () => {
    expect(
      () => new PoolMonitor({ source: new StaticEndpointSource([]), clock: new ManualClock(), scrapeThread: 'worker' }),
    ).toThrow(/scrapeThread/);
  });

  it.runIf(process.platform === 'linux')('runs the worker thread at the process\'s nice value plus scrapeWorkerNice; the dispatch thread keeps its own', async () => {
    const niceOf = (tid: string): number => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const mainNice = niceOf(String(process.pid));
    const before = new Set(readdirSync('/proc/self/task'));
    const [server] = await startServers(1);
    const m = monitorFor([server!], 'worker', 7);
    await m.monitor.start();
    await waitFor('fresh', () => m.endpoint(server!)?.stale === false);
    const lowered = m.logger.entries.find((e) => e.msg === 'scrape worker thread priority lowered');
    expect(lowered?.obj).toEqual({ nice: Math.min(19, mainNice + 7) });
    const added = readdirSync('/proc/self/task').filter((tid) => !before.has(tid));
    expect(added.map(niceOf)).toContain(Math.min(19, mainNice + 7));
    expect(niceOf(String(process.pid))).toBe(mainNice);
  });
});
