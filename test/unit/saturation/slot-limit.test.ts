import { describe, expect, it } from 'vitest';
import { HybridDetector, SLOT_PROBE_MAX_READINGS, SLOT_PROBE_READINGS, SLOT_PROVISIONAL_GROWTH, SlotLimitLearner } from '../../../src/saturation/index.js';
import { poolOf } from './pool-fixture.js';

/** Feeds readings at 50 ms steps; returns the limit after the last one. */
function feed(learner: SlotLimitLearner, readings: readonly [running: number, waiting: number, kv?: number][], from = 0): number | undefined {
  let limit: number | undefined;
  readings.forEach(([running, waiting, kv], i) => {
    limit = learner.observe('a', { scrapedAt: from + i * 50, running, waiting, kvUsage: kv ?? 0.3 });
  });
  return limit;
}

describe('SlotLimitLearner', () => {
  it('knows no limit until the server queues; then holds at the most it ran (a provisional bound)', () => {
    const l = new SlotLimitLearner(0.8);
    expect(feed(l, [[10, 0], [20, 0]])).toBeUndefined();
    expect(feed(l, [[20, 1]], 1000)).toBe(20); // queueing: no more than it runs until it shows room
    expect(feed(l, [[12, 1]], 2000)).toBe(20); // the bound never falls below what it once ran
  });

  it('confirms the limit when the server queues at its most-ever running count twice in a row without climbing', () => {
    const l = new SlotLimitLearner(0.8);
    feed(l, [[32, 2], [32, 3]]);
    // Confirmed: probed only after SLOT_PROBE_READINGS full readings with nothing waiting, not at the first one.
    expect(feed(l, [[32, 0]], 1000)).toBe(32);
  });

  it('takes a queue held by the step budget (running still climbing) for a provisional bound only, and grows it by an eighth at each full reading with nothing waiting', () => {
    const l = new SlotLimitLearner(0.8);
    // A burst of long prompts admitted a few per step: it queues at 4, 8, 12 while its slots are free.
    expect(feed(l, [[4, 20], [8, 16], [12, 12]])).toBe(12);
    expect(feed(l, [[12, 0]], 1000)).toBe(12 + Math.ceil(12 * SLOT_PROVISIONAL_GROWTH));
    expect(feed(l, [[14, 0]], 2000)).toBe(14 + Math.ceil(14 * SLOT_PROVISIONAL_GROWTH));
    expect(feed(l, [[15, 1]], 3000)).toBe(15); // queued again: the probe closes at the most it ran
  });

  it('confirms a provisional bound whose probe found the server queueing without running more', () => {
    const l = new SlotLimitLearner(0.8);
    expect(feed(l, [[8, 1]])).toBe(8);
    expect(feed(l, [[8, 0]], 1000)).toBe(9); // a provisional probe
    expect(feed(l, [[8, 1]], 2000)).toBe(8); // it waited and nothing more ran: 8 is the limit
    expect(feed(l, [[8, 0]], 3000)).toBe(8); // confirmed: no probe at the next full reading
  });

  it('does not confirm from a queue held by a full KV cache', () => {
    const l = new SlotLimitLearner(0.8);
    feed(l, [[20, 3, 0.95], [20, 3, 0.95]]);
    expect(feed(l, [[20, 0, 0.95]], 1000)).toBe(20 + Math.ceil(20 * SLOT_PROVISIONAL_GROWTH)); // still provisional
  });

  it('never learns a limit below what the server ran; a reading is learned from once', () => {
    const l = new SlotLimitLearner(0.8);
    expect(feed(l, [[32, 1], [32, 1], [20, 5], [20, 5]])).toBe(32);
    expect(l.observe('a', { scrapedAt: 150, running: 40, waiting: 0, kvUsage: 0.3 })).toBe(32); // same scrape again
  });

  it(`probes a confirmed limit after ${SLOT_PROBE_READINGS} full readings with nothing waiting, doubling after a probe that ran and backing off after one that waited`, () => {
    const l = new SlotLimitLearner(0.8);
    feed(l, [[8, 1], [8, 1]]);
    const full = (n: number, running: number): [number, number][] => Array.from({ length: n }, (): [number, number] => [running, 0]);
    expect(feed(l, full(SLOT_PROBE_READINGS - 1, 8), 100)).toBe(8);
    expect(feed(l, full(1, 8), 1000)).toBe(9); // open until the next reading
    expect(feed(l, [[9, 0]], 2000)).toBe(9); // it ran: the server can run 9
    expect(feed(l, full(SLOT_PROBE_READINGS - 1, 9), 3000)).toBe(11); // the next probe is 2
    expect(feed(l, [[9, 2]], 4000)).toBe(9); // it waited: the limit stays, the probe closes
    // The next probe (of 1) waits twice as many readings.
    expect(feed(l, full(2 * SLOT_PROBE_READINGS - 1, 9), 5000)).toBe(9);
    expect(feed(l, full(1, 9), 9000)).toBe(10);
  });

  it(`spaces probes that keep waiting up to ${SLOT_PROBE_MAX_READINGS} readings apart`, () => {
    const l = new SlotLimitLearner(0.8);
    feed(l, [[8, 1], [8, 1]]);
    let t = 1000;
    let gaps: number[] = [];
    let since = 0;
    for (let i = 0; i < 2000; i++) {
      const limit = l.observe('a', { scrapedAt: (t += 50), running: 8, waiting: 0, kvUsage: 0.3 });
      since++;
      if (limit === 9) {
        gaps.push(since);
        since = 0;
        l.observe('a', { scrapedAt: (t += 50), running: 8, waiting: 1, kvUsage: 0.3 }); // the probe waited
      }
    }
    gaps = gaps.slice(0, 8);
    expect(gaps).toEqual([4, 8, 16, 32, 64, 128, 128, 128].map((g) => Math.min(g, SLOT_PROBE_MAX_READINGS)));
  });

  it('forgets endpoints that left the pool', () => {
    const l = new SlotLimitLearner(0.8);
    feed(l, [[4, 1], [4, 1]]);
    expect(l.limitOf('a')).toBe(4);
    l.retain(() => false);
    expect(l.limitOf('a')).toBeUndefined();
    expect(l.size).toBe(0);
  });
});

describe('HybridDetector slot limit', () => {
  it('counts an endpoint full once running + waiting - finished + sent since the scrape reach its slots', () => {
    const f = poolOf([{ waiting: 0, kv: 0.1, ageMs: 0 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { slotLimit: 4 });
    const id = f.ids[0]!;
    const seen = [f.inflight.begin(id, 10), f.inflight.begin(id, 10), f.inflight.begin(id, 10)];
    f.clock.advance(1);
    f.store.recordMetrics(id, { waitingQueue: 0, runningRequests: 3, kvCacheUsage: 0.1, loraRunning: [], loraWaiting: [], maxLora: 0 }, f.clock.now());
    f.inflight.markScraped(id, f.clock.now());
    expect(d.endpointSaturation(id)).toBeCloseTo(3 / 4, 10); // one slot free: the next request starts at once
    f.inflight.begin(id, 10);
    expect(d.endpointSaturation(id)).toBe(1); // now it would wait in the server's queue: held in Fairway instead
    f.inflight.end(seen[0]!);
    expect(d.endpointSaturation(id)).toBeCloseTo(3 / 4, 10); // a finished request freed its slot
  });

  it('learns the slot limit from the scrapes when none is configured, and ignores it with learnSlotLimit: false', () => {
    const f = poolOf([{ waiting: 0, kv: 0.1, ageMs: 0 }]);
    const learned = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock });
    const off = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { learnSlotLimit: false });
    const id = f.ids[0]!;
    for (let i = 0; i < 2; i++) {
      f.clock.advance(50);
      f.store.recordMetrics(id, { waitingQueue: 1, runningRequests: 8, kvCacheUsage: 0.1, loraRunning: [], loraWaiting: [], maxLora: 0 }, f.clock.now());
      learned.saturation();
      off.saturation();
    }
    expect(learned.slotLimitOf(id)).toBe(8);
    expect(learned.endpointSaturation(id)).toBeCloseTo(9 / 8, 10); // 8 running + 1 queued on 8 slots
    expect(off.slotLimitOf(id)).toBeUndefined();
    expect(off.endpointSaturation(id)).toBeCloseTo(1 / 5, 10); // the queue threshold alone
  });
});
