import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { MetricsPageReader, MetricsScraper, type ScrapeOutcome, VLLM_METRICS, isUnreachableReason } from '../../../src/datalayer/index.js';
import { RecordingLogger, ScriptedFetcher, flush } from './fakes.js';
import { vllmPage } from './fixtures.js';

function setup(intervalMs = 50, timeoutMs = 1000) {
  const clock = new ManualClock();
  const fetcher = new ScriptedFetcher();
  const logger = new RecordingLogger();
  const outcomes: ScrapeOutcome[] = [];
  const scraper = new MetricsScraper({
    endpointId: 'h:1',
    fetcher,
    names: VLLM_METRICS,
    clock,
    logger,
    // Backoff jitter at its low end: the call counts below are exact, not a matter of chance.
    random: { next: () => 0 },
    intervalMs,
    timeoutMs,
    onOutcome: (o) => outcomes.push(o),
  });
  return { clock, fetcher, logger, outcomes, scraper };
}

/** Advances virtual time in small steps, letting the scraper's promises settle between steps. */
async function run(clock: ManualClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

describe('MetricsScraper', () => {
  it('scrapes every interval and reports metrics with send and receive times', async () => {
    const { clock, fetcher, outcomes, scraper } = setup();
    fetcher.respond = { kind: 'text', text: vllmPage(2, 3, 0.5) };
    scraper.start();
    clock.advance(0);
    await flush();
    await run(clock, 200);
    expect(fetcher.calls).toBe(5); // t = 0, 50, 100, 150, 200
    expect(outcomes[0]).toMatchObject({ ok: true, startedAt: 0, metrics: { waitingQueue: 2, kvCacheUsage: 0.5 } });
    await scraper.stop();
  });

  it('never overlaps: a slow scrape delays the next one instead of running beside it', async () => {
    const { clock, fetcher, outcomes, scraper } = setup();
    fetcher.respond = { kind: 'manual' };
    scraper.start();
    clock.advance(0);
    await flush();
    await run(clock, 300);
    expect(fetcher.calls).toBe(1);
    fetcher.finish(vllmPage(0, 0, 0));
    await flush();
    clock.advance(0);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]?.finishedAt).toBe(300);
    expect(fetcher.calls).toBe(2); // overdue, so the next scrape starts at once
    expect(fetcher.maxActive).toBe(1);
    await scraper.stop();
  });

  it('times out a hanging fetch through the clock and reports a failure', async () => {
    const { clock, fetcher, outcomes, scraper } = setup(50, 100);
    fetcher.respond = { kind: 'hang' };
    scraper.start();
    clock.advance(0);
    await flush();
    await run(clock, 100);
    expect(outcomes[0]).toEqual({ ok: false, reason: 'timeout', detail: 'no complete answer within 100 ms', startedAt: 0, finishedAt: 100 });
    await scraper.stop();
  });

  it('reports garbage text and fetch errors as failures, never throws', async () => {
    const { clock, fetcher, outcomes, scraper } = setup();
    fetcher.respond = { kind: 'text', text: '<html>oops</html>' };
    scraper.start();
    clock.advance(0);
    await flush();
    fetcher.respond = { kind: 'error', message: 'ECONNREFUSED' };
    await run(clock, 50);
    expect(outcomes.map((o) => o.ok)).toEqual([false, false]);
    expect(outcomes[0]).toMatchObject({ reason: 'garbage' });
    expect(outcomes[1]).toMatchObject({ reason: 'other', detail: 'ECONNREFUSED' });
    await scraper.stop();
  });

  it('tells an endpoint that cannot be talked to (refused, reset, timed out) from one that answers badly', async () => {
    const { clock, fetcher, outcomes, scraper } = setup();
    const script: (typeof fetcher.respond)[] = [
      { kind: 'error', message: 'connect ECONNREFUSED 10.0.0.1:8000', code: 'ECONNREFUSED' },
      { kind: 'error', message: 'other side closed', code: 'UND_ERR_SOCKET' },
      { kind: 'error', message: 'read ECONNRESET', code: 'ECONNRESET' },
      { kind: 'error', message: 'HTTP status 500', code: 'ERR_SCRAPE_HTTP' },
      { kind: 'text', text: '<html>oops</html>' },
    ];
    fetcher.respond = script[0]!;
    scraper.start();
    clock.advance(0);
    await flush();
    for (const [i, next] of script.slice(1).entries()) {
      fetcher.respond = next;
      // Failing endpoints back off: wait for the next attempt, however far.
      while (outcomes.length < i + 2) await run(clock, 10);
    }
    expect(outcomes.map((o) => (o.ok ? 'ok' : isUnreachableReason(o.reason)))).toEqual([true, true, true, false, false]);
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual(['connect', 'reset', 'reset', 'other', 'garbage']);
    await scraper.stop();
  });

  it('backs off while failing and is back at the interval from its first good answer', async () => {
    const { clock, fetcher, outcomes, scraper } = setup(50, 1000);
    fetcher.respond = { kind: 'error', message: 'down' };
    scraper.start();
    clock.advance(0);
    await flush();
    // Failures 1..6 at jitter 0: the interval after the first, then half the doubling ceiling (capped at 1 s).
    while (outcomes.length < 6) await run(clock, 10);
    const failedAt = outcomes.map((o) => o.startedAt);
    expect(failedAt.slice(1).map((t, i) => t - failedAt[i]!)).toEqual([50, 50, 100, 200, 400]);
    fetcher.respond = { kind: 'text', text: vllmPage(0, 0, 0) };
    while (!outcomes.at(-1)!.ok) await run(clock, 10);
    const recoveredAt = outcomes.at(-1)!.startedAt;
    const before = outcomes.length;
    await run(clock, 200);
    // Every 50 ms again from the first good answer on.
    expect(outcomes.slice(before).map((o) => o.startedAt - recoveredAt)).toEqual([50, 100, 150, 200]);
    await scraper.stop();
  });

  it('logs failures on transitions only: one warning per outage, one info on recovery', async () => {
    const { clock, fetcher, logger, scraper } = setup();
    fetcher.respond = { kind: 'error', message: 'down' };
    scraper.start();
    clock.advance(0);
    await flush();
    await run(clock, 500);
    fetcher.respond = { kind: 'text', text: vllmPage(0, 0, 0) };
    await run(clock, 500);
    fetcher.respond = { kind: 'error', message: 'down again' };
    await run(clock, 200);
    expect(fetcher.calls).toBeGreaterThan(12);
    expect(logger.lines('warn')).toEqual(['metrics scrape failing', 'metrics scrape failing']);
    expect(logger.lines('info')).toEqual(['metrics scrape recovered']);
    await scraper.stop();
  });

  it('stop() aborts a scrape in progress, publishes nothing more, leaves no timer and closes the fetcher', async () => {
    const { clock, fetcher, outcomes, scraper } = setup();
    fetcher.respond = { kind: 'hang' };
    scraper.start();
    clock.advance(0);
    await flush();
    expect(fetcher.active).toBe(1);
    await scraper.stop();
    await flush();
    expect(fetcher.active).toBe(0);
    expect(fetcher.closed).toBe(true);
    expect(outcomes).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
    await scraper.stop(); // idempotent
  });

  it('a page ending with the families in use (a filtered one) keeps its learnt layout: one whole-page read, then early-stop reads', async () => {
    const begin = vi.spyOn(MetricsPageReader.prototype, 'begin');
    try {
      const { clock, fetcher, outcomes, scraper } = setup();
      fetcher.respond = { kind: 'text', text: vllmPage(2, 3, 0.5) };
      scraper.start();
      clock.advance(0);
      await flush();
      await run(clock, 450);
      expect(outcomes.length).toBeGreaterThanOrEqual(9);
      expect(outcomes.every((o) => o.ok)).toBe(true);
      // undefined: a whole-page read (learning the layout); a set: reading that may stop once those are read.
      const wholeReads = begin.mock.calls.filter(([stopAfter]) => stopAfter === undefined).length;
      expect(wholeReads).toBe(1);
      // A page that lost a family in use is learnt again.
      fetcher.respond = { kind: 'text', text: 'vllm:num_requests_waiting 1\nvllm:num_requests_running 1\n' };
      await run(clock, 50);
      fetcher.respond = { kind: 'text', text: vllmPage(2, 3, 0.5) };
      const before = begin.mock.calls.length;
      await run(clock, 50);
      expect(begin.mock.calls.slice(before).some(([stopAfter]) => stopAfter === undefined)).toBe(true);
      await scraper.stop();
    } finally {
      begin.mockRestore();
    }
  });

  it('a throwing outcome listener is logged and the loop goes on', async () => {
    const clock = new ManualClock();
    const fetcher = new ScriptedFetcher();
    fetcher.respond = { kind: 'text', text: vllmPage(0, 0, 0) };
    const logger = new RecordingLogger();
    const scraper = new MetricsScraper({
      endpointId: 'h:1', fetcher, names: VLLM_METRICS, clock, logger,
      onOutcome: () => {
        throw new Error('listener bug');
      },
    });
    scraper.start();
    clock.advance(0);
    await flush();
    await run(clock, 100);
    expect(fetcher.calls).toBe(3);
    expect(logger.lines('error').length).toBe(3);
    await scraper.stop();
  });

  it('adaptive interval: every minIntervalMs while the server queues, stretching towards maxIntervalMs while idle', async () => {
    const clock = new ManualClock();
    const fetcher = new ScriptedFetcher();
    const starts: number[] = [];
    const scraper = new MetricsScraper({
      endpointId: 'h:1', fetcher, names: VLLM_METRICS, clock, logger: new RecordingLogger(), intervalMs: 50,
      adaptive: { minIntervalMs: 20, maxIntervalMs: 120 },
      onOutcome: (o) => void starts.push(o.startedAt),
    });
    fetcher.respond = { kind: 'text', text: vllmPage(4, 32, 0.5) }; // queueing: near saturation
    scraper.start();
    clock.advance(0);
    await flush();
    await run(clock, 100);
    expect(starts).toEqual([0, 20, 40, 60, 80, 100]);
    fetcher.respond = { kind: 'text', text: vllmPage(0, 0, 0) }; // idle
    starts.length = 0;
    await run(clock, 600);
    // 100 + 20 (the min after the last queueing scrape), then 50, 75, 112.5 and 120 apart.
    expect(starts.slice(0, 6)).toEqual([120, 170, 245, 357.5, 477.5, 597.5]);
    await scraper.stop();
  });
});
