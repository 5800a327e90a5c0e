// Jain's fairness index: the formula, and the gauges over weighted served tokens of the tenants active in the last
// minute, read from the status recorder's tenant ledger (the one place served tokens per tenant are tracked).
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock, ObserverFaults, noopLogger } from '../../../src/core/index.js';
import { fanOutFlowControlObserver } from '../../../src/flowcontrol/index.js';
import { FAIRWAY_METRICS, FairwayMetrics, jainIndex } from '../../../src/observability/index.js';
import { StatusRecorder, type TenantLedgerOptions } from '../../../src/status/index.js';
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

/** Metrics and the status recorder fed the same events, the metrics reading the recorder's ledger (as the server wires them). */
function wired(ledger: TenantLedgerOptions = {}) {
  const registry = new Registry();
  const metrics = new FairwayMetrics(registry, { clock: new ManualClock(0) });
  const recorder = new StatusRecorder(ledger);
  metrics.bindTenantService(recorder.tenants);
  return { registry, ledger: recorder.tenants, events: fanOutFlowControlObserver({ metrics, status: recorder }, new ObserverFaults(noopLogger)) };
}

describe('fairway_fairness_jain_index', () => {
  it('is 1.0 when active tenants are served equally', async () => {
    const { registry, events } = wired();
    for (const t of ['a', 'b', 'c']) events.onRelease(0, t, 1, 400);
    const s = await scrape(registry);
    expect(value(s, JAIN)).toBe(1);
    expect(value(s, ACTIVE)).toBe(3);
  });

  it('follows the exact formula for skewed shares', async () => {
    const { registry, events } = wired();
    events.onRelease(0, 'a', 1, 300);
    events.onRelease(0, 'a', 1, 600); // a: 900
    events.onRelease(0, 'b', 1, 100);
    const s = await scrape(registry);
    expect(value(s, JAIN)).toBeCloseTo((1000 * 1000) / (2 * (900 * 900 + 100 * 100)), 12);
  });

  it('divides by tenant weight: service proportional to weight is fair', async () => {
    const weights = new Map([['gold', 3], ['bronze', 1]]);
    const { registry, events } = wired({ weightOf: (id) => weights.get(id) ?? 1 });
    events.onRelease(0, 'gold', 1, 300);
    events.onRelease(0, 'bronze', 1, 100);
    const s = await scrape(registry);
    expect(value(s, JAIN)).toBe(1);
  });

  it('counts a tenant with demand but no service as a zero share', async () => {
    const { registry, events } = wired();
    events.onRelease(0, 'served', 1, 500);
    events.onOutcome({ kind: 'evicted', reason: 'ttl', priority: 0, fairnessId: 'starved', waitMs: 30_000 });
    const s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(2);
    expect(value(s, JAIN)).toBeCloseTo(0.5, 15);
  });

  it('counts a tenant as active as soon as it has a request queued, before any outcome', async () => {
    const { registry, events } = wired();
    events.onRelease(0, 'served', 1, 500);
    events.onQueued?.(0, 'waiting');
    const s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(2);
    expect(value(s, JAIN)).toBeCloseTo(0.5, 15);
  });

  it('forgets tenants 60 s (ticks) after their last event; older service weighs less', async () => {
    const { registry, ledger, events } = wired();
    const ticks = (n: number): void => {
      for (let i = 0; i < n; i++) ledger.tick();
    };
    events.onRelease(0, 'old', 1, 10_000);
    ticks(30);
    events.onRelease(0, 'new-a', 1, 50);
    events.onRelease(0, 'new-b', 1, 50);
    let s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(3);
    expect(value(s, JAIN)).toBeLessThan(0.4);
    ticks(30);
    s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(2);
    expect(value(s, JAIN)).toBeCloseTo(1, 9); // running sums after an expiry: a rounding hair below 1
    ticks(30);
    s = await scrape(registry);
    expect(value(s, ACTIVE)).toBe(0);
    expect(value(s, JAIN)).toBe(1);
  });

  it('reads the same figures the status page shows (one ledger), and states its window in the help text', async () => {
    const { registry, ledger, events } = wired({ activeTicks: 5, decayTicks: 7 });
    events.onRelease(0, 'a', 1, 10);
    events.onRelease(0, 'b', 1, 70);
    events.onQueued?.(0, 'c');
    const s = await scrape(registry);
    expect(value(s, JAIN)).toBe(ledger.jainIndex());
    expect(value(s, ACTIVE)).toBe(ledger.activeTenants);
    const text = await registry.metrics();
    expect(text).toMatch(/# HELP fairway_fairness_jain_index .*time constant 7 s.*last 5 s/);
    for (let i = 0; i < 5; i++) ledger.tick();
    expect(value(await scrape(registry), ACTIVE)).toBe(0);
  });

  it('exist only once bound to a ledger, and bind once', () => {
    const registry = new Registry();
    const metrics = new FairwayMetrics(registry, { clock: new ManualClock(0) });
    expect(registry.getSingleMetric(JAIN)).toBeUndefined();
    const recorder = new StatusRecorder();
    metrics.bindTenantService(recorder.tenants);
    expect(registry.getSingleMetric(JAIN)).toBeDefined();
    expect(() => metrics.bindTenantService(recorder.tenants)).toThrow(/twice/);
  });
});
