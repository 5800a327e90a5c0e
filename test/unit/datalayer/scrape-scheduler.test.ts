import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { type ScheduledScrape, type ScrapeTask, ScrapeScheduler, maxInFlightFor } from '../../../src/datalayer/index.js';
import { DueHeap } from '../../../src/datalayer/scrape-scheduler.js';

/** A scrape that takes `durationMs` of virtual time (or hangs until timed out) and is due `intervalMs` after it started. */
class FakeScrape implements ScheduledScrape {
  task: ScrapeTask | undefined;
  starts: number[] = [];
  timeouts = 0;
  private startedAt = 0;

  constructor(
    private readonly scheduler: ScrapeScheduler,
    private readonly clock: ManualClock,
    public durationMs: number | 'hang',
    private readonly intervalMs: number,
  ) {}

  run(now: number): void {
    this.startedAt = now;
    this.starts.push(now);
    const duration = this.durationMs;
    if (duration !== 'hang') this.clock.setTimeout(() => this.end(), duration);
  }

  timedOut(): void {
    this.timeouts++;
    this.end();
  }

  private end(): void {
    if (this.task !== undefined) this.scheduler.finished(this.task, this.startedAt + this.intervalMs);
  }
}

function setup(count: number, options: { durationMs?: number | 'hang'; intervalMs?: number; timeoutMs?: number; maxInFlight?: number } = {}) {
  const clock = new ManualClock();
  const scheduler = new ScrapeScheduler({ clock, timeoutMs: options.timeoutMs ?? 200, ...(options.maxInFlight !== undefined ? { maxInFlight: options.maxInFlight } : {}) });
  const scrapes = Array.from({ length: count }, (_, i) => {
    const s = new FakeScrape(scheduler, clock, options.durationMs ?? 1, options.intervalMs ?? 50);
    s.task = scheduler.add(s, (i * 50) / count);
    return s;
  });
  return { clock, scheduler, scrapes };
}

function advance(clock: ManualClock, ms: number, step = 1): void {
  for (let t = 0; t < ms; t += step) clock.advance(step);
}

describe('ScrapeScheduler', () => {
  it('starts each endpoint every interval with one pending timer for the whole pool', () => {
    const { clock, scheduler, scrapes } = setup(100);
    let maxTimers = 0;
    for (let t = 0; t < 499; t++) {
      clock.advance(1);
      maxTimers = Math.max(maxTimers, clock.pendingTimers() - scheduler.inFlightCount); // minus the fakes' own
    }
    expect(maxTimers).toBe(1);
    // First starts spread over [0, 50), then exactly every 50 ms.
    for (const s of scrapes) {
      const first = s.starts[0] ?? 0;
      expect(s.starts.length).toBe(Math.floor((499 - first) / 50) + 1);
      expect(s.starts.every((t, i) => Math.abs(t - (first + 50 * i)) < 1e-9)).toBe(true);
    }
    scheduler.close();
    advance(clock, 10);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('property: with scrapes slower than the pool allows, every endpoint is still scraped, in turn, never two at once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 5, max: 40 }), (count, maxInFlight, durationMs) => {
        const { clock, scrapes } = setup(count, { maxInFlight, durationMs, timeoutMs: 10_000 });
        advance(clock, 2_000);
        const starts = scrapes.map((s) => s.starts.length);
        // Due order is round robin: no endpoint falls more than one scrape behind another.
        expect(Math.max(...starts) - Math.min(...starts)).toBeLessThanOrEqual(1);
        expect(Math.min(...starts)).toBeGreaterThan(0);
        for (const s of scrapes) {
          for (let i = 1; i < s.starts.length; i++) expect((s.starts[i] ?? 0) - (s.starts[i - 1] ?? 0)).toBeGreaterThanOrEqual(durationMs);
        }
      }),
      { seed: 14, numRuns: 60 },
    );
  });

  it('holds scrapes in flight to the bound', () => {
    const { clock, scheduler } = setup(30, { maxInFlight: 4, durationMs: 30 });
    let most = 0;
    for (let t = 0; t < 300; t++) {
      clock.advance(1);
      most = Math.max(most, scheduler.inFlightCount);
    }
    expect(most).toBe(4);
  });

  it('times a hanging scrape out once, at its deadline, by the sweep; the others go on', () => {
    const { clock, scrapes } = setup(3, { timeoutMs: 100 });
    const hung = scrapes[1]!;
    hung.durationMs = 'hang';
    advance(clock, 999);
    // Started at 0 + 50 * i / 3 and every time it is due again: each attempt hangs for 100 ms, then the next one
    // is already due (interval 50 < timeout), so it is tried every 100 ms.
    expect(hung.timeouts).toBe(hung.starts.length - 1);
    expect(hung.starts.slice(0, 3).map((t) => Math.round(t))).toEqual([17, 117, 217]);
    expect(scrapes[0]!.timeouts + scrapes[2]!.timeouts).toBe(0);
    expect(scrapes[0]!.starts.length).toBe(20);
  });

  it('a removed endpoint is never started again; its scrape in flight only frees its slot', () => {
    const { clock, scheduler, scrapes } = setup(2, { durationMs: 20 });
    advance(clock, 1);
    const [a, b] = scrapes as [FakeScrape, FakeScrape];
    expect(a.starts).toEqual([0]);
    scheduler.remove(a.task!);
    advance(clock, 300);
    expect(a.starts).toEqual([0]);
    expect(b.starts.length).toBe(6);
    expect(scheduler.inFlightCount).toBe(0); // a's slot freed, b between scrapes (started 275, ended 295)
  });

  it('maxInFlightFor: a quarter of the pool, at least 64', () => {
    expect(maxInFlightFor(10)).toBe(64);
    expect(maxInFlightFor(1_000)).toBe(250);
  });
});

describe('DueHeap', () => {
  it('property: pushes and pops in any interleaving pop tasks in due order, each exactly once', () => {
    const op = fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 50 }) }), fc.constant({ pop: true as const }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const heap = new DueHeap();
        const model: ScrapeTask[] = [];
        const task = (due: number): ScrapeTask => ({ scrape: { run: () => undefined, timedOut: () => undefined }, due, seq: 0, inFlight: false, removed: false });
        for (const o of ops) {
          if ('push' in o) {
            const t = task(o.push);
            heap.push(t);
            model.push(t);
          } else {
            const got = heap.pop();
            const least = model.reduce<number>((m, t) => Math.min(m, t.due), Number.POSITIVE_INFINITY);
            if (got === undefined) {
              expect(model).toHaveLength(0);
            } else {
              expect(got.due).toBe(least);
              expect(model).toContain(got);
              model.splice(model.indexOf(got), 1);
            }
          }
          expect(heap.size).toBe(model.length);
          expect(heap.peek()?.due).toBe(model.length === 0 ? undefined : Math.min(...model.map((t) => t.due)));
        }
      }),
      { seed: 14, numRuns: 300 },
    );
  });
});
