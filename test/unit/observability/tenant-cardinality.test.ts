// The fairness_id label stays bounded under a flood of tenant ids, every token is still counted exactly once, and
// slots move from idle tenants to busy ones at scrape time (who is busy: the status recorder's tenant ledger).
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock, ObserverFaults, noopLogger } from '../../../src/core/index.js';
import { type FlowControlObserver, fanOutFlowControlObserver } from '../../../src/flowcontrol/index.js';
import { FAIRWAY_METRICS, FairwayMetrics, OVERFLOW_LABEL } from '../../../src/observability/index.js';
import { StatusRecorder, type TenantLedger } from '../../../src/status/index.js';
import { samples, scrape, value } from './scrape.js';

/** Metrics with `maxTenantLabels` slots, reading the ledger of a status recorder fed the same events (as served). */
function wired(maxTenantLabels: number): { registry: Registry; ledger: TenantLedger; m: FlowControlObserver } {
  const registry = new Registry();
  const metrics = new FairwayMetrics(registry, { maxTenantLabels, clock: new ManualClock(0) });
  const recorder = new StatusRecorder();
  metrics.bindTenantService(recorder.tenants);
  return { registry, ledger: recorder.tenants, m: fanOutFlowControlObserver({ metrics, status: recorder }, new ObserverFaults(noopLogger)) };
}

const NAME = FAIRWAY_METRICS.tenantServedTokens;

function total(s: Awaited<ReturnType<typeof scrape>>): number {
  return samples(s, NAME).reduce((acc, x) => acc + x.value, 0);
}

describe('fairway_tenant_served_tokens_total cardinality', () => {
  it('keeps at most N + 1 series under 10,000 fairness ids, with the exact token total', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { clock: new ManualClock(0) });
    for (let i = 0; i < 10_000; i++) {
      m.onOutcome({ kind: 'dispatched', reason: undefined, priority: 0, fairnessId: `tenant-${i}`, waitMs: 1 });
      m.onRelease(0, `tenant-${i}`, 10, 7);
    }
    const s = await scrape(registry);
    const series = samples(s, NAME);
    expect(series).toHaveLength(101);
    expect(total(s)).toBe(70_000);
    expect(value(s, NAME, { fairness_id: OVERFLOW_LABEL })).toBe(9_900 * 7);
    // Every other metric is free of tenant ids altogether.
    const tenantLabelled = s.filter((x) => x.name !== NAME && Object.values(x.labels).some((v) => String(v).startsWith('tenant-')));
    expect(tenantLabelled).toHaveLength(0);
    // The text exposition is bounded too.
    const lines = (await registry.metrics()).split('\n').filter((l) => l.startsWith(`${NAME}{`));
    expect(lines).toHaveLength(101);
  });

  it('honours a configured N', async () => {
    const registry = new Registry();
    const m = new FairwayMetrics(registry, { maxTenantLabels: 3, clock: new ManualClock(0) });
    for (let i = 0; i < 10; i++) m.onRelease(0, `t${i}`, 1, 1);
    const s = await scrape(registry);
    expect(samples(s, NAME).map((x) => String(x.labels.fairness_id)).sort()).toEqual(['__other__', 't0', 't1', 't2']);
    expect(value(s, NAME, { fairness_id: OVERFLOW_LABEL })).toBe(7);
  });

  it('hands slots of tenants idle in the window to the busiest tenants without one; series stay monotonic', async () => {
    const { registry, ledger, m } = wired(2);
    m.onRelease(0, 'early-a', 1, 5);
    m.onRelease(0, 'early-b', 1, 5);
    // Slots are full: the heavy tenant starts in the overflow series.
    m.onRelease(0, 'heavy', 1, 1000);
    m.onRelease(0, 'light', 1, 10);
    let s = await scrape(registry);
    expect(value(s, NAME, { fairness_id: OVERFLOW_LABEL })).toBe(1010);
    expect(samples(s, NAME, { fairness_id: 'heavy' })).toHaveLength(0);

    // 61 s later the early tenants have left the window; heavy and light are still being served.
    for (let i = 0; i < 61; i++) ledger.tick();
    m.onRelease(0, 'heavy', 1, 500);
    m.onRelease(0, 'light', 1, 20);
    s = await scrape(registry); // the rebalancing scrape
    const overflowBefore = value(s, NAME, { fairness_id: OVERFLOW_LABEL });
    expect(overflowBefore).toBe(1530);
    expect(samples(s, NAME, { fairness_id: 'early-a' })).toHaveLength(0);
    expect(samples(s, NAME, { fairness_id: 'early-b' })).toHaveLength(0);

    m.onRelease(0, 'heavy', 1, 300);
    m.onRelease(0, 'light', 1, 30);
    s = await scrape(registry);
    // Tokens after promotion go to the tenant's own series; the overflow series never goes down.
    expect(value(s, NAME, { fairness_id: 'heavy' })).toBe(300);
    expect(value(s, NAME, { fairness_id: 'light' })).toBe(30);
    expect(value(s, NAME, { fairness_id: OVERFLOW_LABEL })).toBe(overflowBefore);
    expect(samples(s, NAME)).toHaveLength(3);
  });

  it('does not evict a labelled tenant that is still being served', async () => {
    const { registry, m } = wired(1);
    m.onRelease(0, 'incumbent', 1, 5);
    m.onRelease(0, 'challenger', 1, 5000);
    await scrape(registry);
    m.onRelease(0, 'challenger', 1, 1);
    const s = await scrape(registry);
    expect(value(s, NAME, { fairness_id: 'incumbent' })).toBe(5);
    expect(value(s, NAME, { fairness_id: OVERFLOW_LABEL })).toBe(5001);
  });
});
