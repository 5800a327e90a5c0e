// Jain's fairness index: the formula, and the gauge over weighted served tokens of tenants active in the window.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { FAIRWAY_METRICS, FairwayMetrics, jainIndex } from '../../../src/observability/index.js';
import { scrape, value } from './scrape.js';

const JAIN = FAIRWAY_METRICS.fairnessJainIndex;
const ACTIVE = FAIRWAY_METRICS.fairnessActiveTenants;

describe('jainIndex', () => {
  it('is 1 for equal shares', () => {
    expect(jainIndex([5, 5, 5, 5])).toBe(1);
    expect(jainIndex([0.1])).toBe(1);
  });

  it('matches (sum x)^2 / (n sum x^2) for skewed shares', () => {
    // (1+2+3+4)^2 / (4 * (1+4+9+16)) = 100 / 120
    expect(jainIndex([1, 2, 3, 4])).toBeCloseTo(100 / 120, 15);
    // One tenant has everything: 1/n.
    expect(jainIndex([9, 0, 0])).toBeCloseTo(1 / 3, 15);
    // (90 + 10)^2 / (2 * (8100 + 100)) = 10000 / 16400
    expect(jainIndex([90, 10])).toBeCloseTo(10_000 / 16_400, 15);
  });

  it('is 1 when there is nothing to compare', () => {
    expect(jainIndex([])).toBe(1);
    expect(jainIndex([0, 0])).toBe(1);
  });
});

describe('fairway_fairness_jain_index', () => {
  it('is 1.0 when active tenants are served equally', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { clock: new ManualClock(0) });
    for (const t of ['a', 'b', 'c']) m.onRelease(0, t, 1, 400);
    const s = await scrape(registry);
    expect(value(s, JAIN)).toBe(1);
    expect(value(s, ACTIVE)).toBe(3);
  });

  it('follows the exact formula for skewed shares', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { clock: new ManualClock(0) });
    m.onRelease(0, 'a', 1, 300);
    m.onRelease(0, 'a', 1, 600); // a: 900
    m.onRelease(0, 'b', 1, 100);
    const s = await scrape(registry);
    expect(value(s, JAIN)).toBeCloseTo((1000 * 1000) / (2 * (900 * 900 + 100 * 100)), 12);
  });

  it('divides by tenant weight: service proportional to weight is fair', async () => {
    const registry = new Registry();
    const weights = new Map([['gold', 3], ['bronze', 1]]);
    const m = new FairwayMetrics(registry, { clock: new ManualClock(0), weightOf: (id) => weights.get(id) ?? 1 });
    m.onRelease(0, 'gold', 1, 300);
    m.onRelease(0, 'bronze', 1, 100);
    const s = await scrape(registry);
    expect(value(s, JAIN)).toBe(1);
  });

  it('counts a tenant with demand but no service as a zero share', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { clock: new ManualClock(0) });
    m.onRelease(0, 'served', 1, 500);
    m.onOutcome({ kind: 'evicted', reason: 'ttl', priority: 0, fairnessId: 'starved', waitMs: 30_000 });
    const s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(2);
    expect(value(s, JAIN)).toBeCloseTo(0.5, 15);
  });

  it('counts a tenant as active as soon as it has a request queued, before any outcome', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { clock: new ManualClock(0) });
    m.onRelease(0, 'served', 1, 500);
    m.onQueued(0, 'waiting');
    const s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(2);
    expect(value(s, JAIN)).toBeCloseTo(0.5, 15);
  });

  it('forgets tenants once they leave the 60 s window', async () => {
    const clock = new ManualClock(0);
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { clock });
    m.onRelease(0, 'old', 1, 10_000);
    clock.advance(30_000);
    m.onRelease(0, 'new-a', 1, 50);
    m.onRelease(0, 'new-b', 1, 50);
    let s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(3);
    expect(value(s, JAIN)).toBeLessThan(0.4);
    // 'old' was recorded in second 0; at 60 s the window holds seconds 1..60.
    clock.advance(30_000);
    s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(2);
    expect(value(s, JAIN)).toBe(1);
    clock.advance(31_000);
    s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(0);
    expect(value(s, JAIN)).toBe(1);
  });

  it('honours a configured window length', async () => {
    const clock = new ManualClock(0);
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { clock, fairnessWindowSeconds: 5 });
    m.onRelease(0, 'a', 1, 10);
    clock.advance(4_999);
    expect(value(await scrape(registry), ACTIVE)).toBe(1);
    clock.advance(1);
    expect(value(await scrape(registry), ACTIVE)).toBe(0);
  });
});
