import { describe, expect, it } from 'vitest';
import { HybridDetector, SLOT_PROBE_READINGS, SlotLimitLearner } from '../../../src/saturation/index.js';
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
  it('knows no limit until the server queues at its highest running count in two readings in a row', () => {
    const l = new SlotLimitLearner(0.8);
    expect(feed(l, [[10, 0], [20, 0], [20, 1]])).toBeUndefined(); // one reading with a queue: a request between steps
    expect(feed(l, [[12, 1], [12, 1]], 1000)).toBeUndefined(); // queued below what it once ran: not its limit
    expect(feed(l, [[32, 2], [31, 3]], 2000)).toBe(32); // full twice in a row: the most it ran is the limit
  });

  it('does not learn from a queue held by a full KV cache', () => {
    const l = new SlotLimitLearner(0.8);
    expect(feed(l, [[20, 3, 0.95], [20, 3, 0.95]])).toBeUndefined();
  });

  it('never learns a limit below what the server ran; a reading is learned from once', () => {
    const l = new SlotLimitLearner(0.8);
    expect(feed(l, [[32, 1], [32, 1], [20, 5], [20, 5]])).toBe(32);
    expect(l.observe('a', { scrapedAt: 150, running: 40, waiting: 0, kvUsage: 0.3 })).toBe(32); // same scrape again
  });

  it(`probes one request beyond the limit after ${SLOT_PROBE_READINGS} full readings with nothing waiting, doubling after a probe that ran`, () => {
    const l = new SlotLimitLearner(0.8);
    feed(l, [[8, 1], [8, 1]]);
    const full = Array.from({ length: SLOT_PROBE_READINGS }, (): [number, number] => [8, 0]);
    expect(feed(l, full.slice(0, -1), 100)).toBe(8);
    expect(feed(l, full.slice(-1), 1000)).toBe(9); // open until the next reading
    expect(feed(l, [[9, 0]], 2000)).toBe(9); // it ran: the server can run 9
    expect(feed(l, full.slice(1).map(() => [9, 0]), 3000)).toBe(11); // the next probe is 2
    expect(feed(l, [[9, 2]], 4000)).toBe(9); // it waited: the limit stays, the probe closes
    expect(feed(l, Array.from({ length: SLOT_PROBE_READINGS }, (): [number, number] => [9, 0]), 5000)).toBe(10); // back to probes of 1
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
