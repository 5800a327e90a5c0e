import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import {
  InflightTracker,
  type MetricsTarget,
  PoolMonitor,
  type ScrapeObserver,
  StaticEndpointSource,
} from '../../../src/datalayer/index.js';
import { type BatchListener } from '../../../src/datalayer/scrape-runner.js';
import { RecordingLogger, ScriptedFetcher, flush } from './fakes.js';
import { SGLANG_PAGE, vllmPage } from './fixtures.js';

function setup(endpoints: { host: string; port: number; engine?: 'vllm' | 'sglang' }[], observer?: ScrapeObserver) {
  const clock = new ManualClock();
  const fetchers = new Map<string, ScriptedFetcher[]>();
  const source = new StaticEndpointSource(endpoints);
  const inflight = new InflightTracker({ clock });
  const monitor = new PoolMonitor({
    source,
    clock,
    logger: new RecordingLogger(),
    scrapeListener: inflight,
    ...(observer !== undefined ? { observer } : {}),
    fetcherFactory: (target: MetricsTarget) => {
      const f = new ScriptedFetcher(target);
      f.respond = { kind: 'text', text: vllmPage(1, 2, 0.25) };
      const key = `${target.host}:${target.port}`;
      fetchers.set(key, [...(fetchers.get(key) ?? []), f]);
      return f;
    },
  });
  return { clock, fetchers, source, inflight, monitor };
}

async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 5) {
    clock.advance(5);
    await flush();
  }
}

describe('PoolMonitor', () => {
  it('scrapes every endpoint of the source into the published pool', async () => {
    const { clock, monitor } = setup([{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    await monitor.start();
    expect(monitor.pool.current().endpoints.map((e) => [e.id, e.stale])).toEqual([['a:1', true], ['b:2', true]]);
    await run(clock, 60);
    const eps = monitor.pool.current().endpoints;
    expect(eps.map((e) => [e.id, e.stale, e.metrics?.waitingQueue])).toEqual([['a:1', false, 1], ['b:2', false, 1]]);
    await monitor.close();
  });

  it('adds and removes endpoints at runtime, closing removed fetchers and leaving no timers after close', async () => {
    const { clock, fetchers, source, monitor } = setup([{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    await monitor.start();
    await run(clock, 60);
    source.set([{ host: 'b', port: 2 }, { host: 'c', port: 3 }]);
    await flush();
    expect(fetchers.get('a:1')?.[0]?.closed).toBe(true);
    expect(fetchers.get('b:2')?.[0]?.closed).toBe(false);
    await run(clock, 60);
    expect(monitor.pool.current().endpoints.map((e) => [e.id, e.stale])).toEqual([['b:2', false], ['c:3', false]]);
    await monitor.close();
    expect([...fetchers.values()].flat().every((f) => f.closed)).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
    source.set([{ host: 'd', port: 4 }]); // after close: ignored
    expect(fetchers.has('d:4')).toBe(false);
  });

  it('restarts the scraper with new metric names when an endpoint changes engine', async () => {
    const { clock, fetchers, source, monitor } = setup([{ host: 'a', port: 1 }]);
    await monitor.start();
    source.set([{ host: 'a', port: 1, engine: 'sglang' }]);
    await flush();
    const [old, current] = fetchers.get('a:1') ?? [];
    expect(old?.closed).toBe(true);
    current!.respond = { kind: 'text', text: SGLANG_PAGE };
    await run(clock, 60);
    expect(monitor.pool.current().endpoints[0]?.metrics?.waitingQueue).toBe(4);
    await monitor.close();
  });

  it('a failing endpoint goes stale while the others stay fresh', async () => {
    const { clock, fetchers, monitor } = setup([{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    await monitor.start();
    fetchers.get('a:1')![0]!.respond = { kind: 'text', text: vllmPage('NaN', 0, 0) };
    await run(clock, 120);
    const byId = new Map(monitor.pool.current().endpoints.map((e) => [e.id, e]));
    expect(byId.get('a:1')?.stale).toBe(true);
    expect(byId.get('b:2')?.stale).toBe(false);
    await monitor.close();
  });

  it('resets the in-flight since-scrape counts for work begun before the scrape was sent', async () => {
    const { clock, fetchers, inflight, monitor } = setup([{ host: 'a', port: 1 }]);
    await monitor.start();
    const f = fetchers.get('a:1');
    clock.advance(0);
    await flush(); // first scrape done at t=0
    inflight.begin('a:1', 100); // t=0: same instant as the scrape send, so not assumed seen
    f![0]!.respond = { kind: 'manual' };
    clock.advance(50); // scrape sent at t=50
    await flush();
    inflight.begin('a:1', 10); // t=50, during the scrape
    f![0]!.finish(vllmPage(1, 1, 0.1));
    await flush();
    clock.advance(0); // outcomes are applied together at the end of the loop turn
    expect(inflight.load('a:1')).toMatchObject({ requests: 2, requestsSinceScrape: 1, tokensSinceScrape: 10 });
    await monitor.close();
  });

  it('tells the in-flight ledger to forget an endpoint that leaves the pool (no credit kept for ever)', async () => {
    const { clock, source, inflight, monitor } = setup([{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
    await monitor.start();
    await run(clock, 60);
    const ticket = inflight.begin('a:1', 100);
    await run(clock, 60); // a scrape sees the ticket
    inflight.end(ticket); // finished after that scrape: credited until the next one
    expect(inflight.load('a:1').requestsEndedSinceScrape).toBe(1);
    source.set([{ host: 'b', port: 2 }]);
    await flush();
    expect(inflight.load('a:1').requestsEndedSinceScrape ?? 0).toBe(0);
    await monitor.close();
  });

  it('close() is idempotent and start() after close throws a coded error', async () => {
    const { monitor } = setup([]);
    await monitor.start();
    await monitor.close();
    await monitor.close();
    await expect(monitor.start()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('counts outcomes merged away before applying (a batch listener\'s superseded ones) with the observer: failures by reason, good scrapes, and all merged', async () => {
    const failures: string[] = [];
    let superseded = 0;
    let merged = 0;
    const { monitor } = setup([{ host: 'a', port: 1 }], {
      onScrapeFailure: (id, reason) => failures.push(`${id} ${reason}`),
      onScrapesSuperseded: (id, count) => (superseded += id === 'a:1' ? count : 0),
      onOutcomesMerged: (id, count) => (merged += id === 'a:1' ? count : 0),
    });
    await monitor.start();
    // The worker runner's batch listener, as it calls it with merged outcomes.
    const applyBatch = (monitor as unknown as { applyBatch: BatchListener }).applyBatch.bind(monitor);
    applyBatch((emit, count) => {
      count('a:1', 'timeout', 2);
      count('a:1', 'ok', 3);
      emit('a:1', { ok: false, reason: 'connect', detail: 'refused', startedAt: 0, finishedAt: 0 });
    });
    expect(failures).toEqual(['a:1 timeout', 'a:1 timeout', 'a:1 connect']);
    expect(superseded).toBe(3);
    // Every merged outcome once, good or failed; the applied one is not merged.
    expect(merged).toBe(5);
    expect(monitor.pool.current().endpoints[0]?.scrapeFailure?.reason).toBe('connect');
    await monitor.close();
  });
});
