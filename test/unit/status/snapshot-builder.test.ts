import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import {
  COUNTER,
  CounterHistory,
  type SnapshotInput,
  buildStatusSnapshot,
  hashTenantName,
  summarizeConfig,
  tenantNamer,
} from '../../../src/status/index.js';

const config = summarizeConfig(
  validateConfig({
    flowControl: {
      bands: [{ priority: 10, name: 'interactive' }, { priority: -1, name: 'batch', maxRequests: 500, ttlMs: 8_000, overflow: 'reject' }],
      usageLimit: { name: 'priority-holdback', params: { step: 0.1 } },
    },
  }),
  { detectorSettings: { queueThreshold: 5 }, schedulerProfile: undefined, tenantNames: 'plain' },
);

function band(priority: number, queued: number, ceiling: number, oldest?: number) {
  return { priority, name: `p${priority}`, queuedRequests: queued, queuedBytes: queued * 100, flows: queued > 0 ? 1 : 0, ceiling, oldestEnqueuedAt: oldest };
}

function input(over: Partial<SnapshotInput> = {}): SnapshotInput {
  return {
    seq: 7,
    now: 100_000,
    wallNow: 1_700_000_000_000,
    startedAt: 0,
    version: '1.2.3',
    config,
    flow: { queuedRequests: 0, queuedBytes: 0, inflight: 0, liveFlows: 0, bands: [] },
    topQueued: [],
    queuedFor: () => 0,
    saturation: { value: 0.5, staleEndpoints: 0, endpoints: new Map() },
    endpoints: [],
    inflightOf: () => 0,
    counters: new Map(),
    history: new CounterHistory(10),
    tenants: { active: 0, jainIndex: 1, top: [], activeWindowSeconds: 60, decaySeconds: 30 },
    tenantName: (id) => id,
    maxEndpoints: 10,
    rateWindowSeconds: 5,
    outcomeWindowSeconds: 60,
    ...over,
  };
}

describe('buildStatusSnapshot', () => {
  it('marks the first waiting band at its ceiling held, and every waiting band below it under strict arbitration', () => {
    const s = buildStatusSnapshot(
      input({
        saturation: { value: 0.95, staleEndpoints: 0, endpoints: new Map() },
        flow: {
          queuedRequests: 9,
          queuedBytes: 900,
          inflight: 3,
          liveFlows: 3,
          bands: [band(10, 2, 1.0, 99_000), band(0, 3, 0.9, 95_500), band(-1, 4, 0.8, 90_000), band(-2, 0, 0.7)],
        },
      }),
    );
    expect(s.bands.map((b) => [b.name, b.gate])).toEqual([
      ['p10', 'open'],
      ['p0', 'ceiling'],
      ['p-1', 'ceiling'],
      ['p-2', 'open'],
    ]);
    expect(s.bands.map((b) => b.oldestWaitMs)).toEqual([1_000, 4_500, 10_000, 0]);
    // A band below a held band is held by it even under its own ceiling.
    const below = buildStatusSnapshot(
      input({
        saturation: { value: 0.95, staleEndpoints: 0, endpoints: new Map() },
        flow: { queuedRequests: 5, queuedBytes: 0, inflight: 0, liveFlows: 2, bands: [band(10, 1, 0.9), band(0, 4, 1.0)] },
      }),
    );
    expect(below.bands.map((b) => b.gate)).toEqual(['ceiling', 'higher-band']);
  });

  it('computes rates over the rate window and counts by reason over the outcome window, from the samples', () => {
    const history = new CounterHistory(100);
    // Samples at 30 s, 40 s ... 95 s (clock ms); counters grow 10 per second.
    for (let t = 30; t <= 95; t += 5) {
      history.record({
        at: t * 1000,
        counters: new Map([
          [COUNTER.dispatched, t * 10],
          [COUNTER.dispatchedBand(10), t * 4],
          [`${COUNTER.shedPrefix}capacity`, t < 50 ? 3 : 8],
          [`${COUNTER.evictedPrefix}ttl`, 2],
        ]),
        gauges: { jainIndex: 0.9, saturation: 1.1, queuedRequests: t, inflight: 4 },
      });
    }
    const s = buildStatusSnapshot(
      input({
        flow: { queuedRequests: 1, queuedBytes: 1, inflight: 1, liveFlows: 1, bands: [band(10, 1, 1)] },
        counters: new Map([
          [COUNTER.dispatched, 1_000],
          [COUNTER.dispatchedBand(10), 400],
          [`${COUNTER.shedPrefix}capacity`, 9],
          [`${COUNTER.shedPrefix}ttl`, 1],
          [`${COUNTER.evictedPrefix}ttl`, 2],
        ]),
        history,
      }),
    );
    // Now = 100 s; the 5 s window starts at the 95 s sample: (1000 - 950) / 5 s.
    expect(s.totals.dispatchedPerSecond).toBe(10);
    expect(s.bands[0]?.dispatchedPerSecond).toBe(4);
    // The 60 s window starts at the 40 s sample: capacity 9 - 3, ttl 1 - 0; evicted ttl did not move.
    expect(s.outcomes.shed).toEqual({ capacity: 6, ttl: 1 });
    expect(s.outcomes.evicted).toEqual({});
    expect(s.outcomes.dispatched).toBe(600);
    // History: one point per sample after the first, wall times aligned on the snapshot's wall clock.
    expect(s.history.times).toHaveLength(13);
    expect(s.history.times.at(-1)).toBe(1_700_000_000_000 - 5_000);
    expect(s.history.dispatchedPerSecond.every((d) => d === 50)).toBe(true);
    expect(s.history.shedPerSecond).toEqual({ capacity: [0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0] });
    expect(s.history.evictedPerSecond).toEqual({});
    expect(s.history.saturation.every((x) => x === 1.1)).toBe(true);
  });

  it('counts since start while the process is younger than the window', () => {
    const s = buildStatusSnapshot(
      input({ now: 4_000, startedAt: 0, counters: new Map([[COUNTER.dispatched, 40], [`${COUNTER.shedPrefix}no-endpoints`, 3]]) }),
    );
    expect(s.totals.dispatchedPerSecond).toBe(10);
    expect(s.outcomes.shed).toEqual({ 'no-endpoints': 3 });
    expect(s.uptimeSeconds).toBe(4);
  });

  it('lists at most maxEndpoints endpoints by id, with scrape age, in-flight and per-endpoint saturation', () => {
    const endpoints = ['10.0.0.3:8000', '10.0.0.1:8000', '10.0.0.2:8000'].map((id, i) => ({
      id,
      metrics: i === 2 ? undefined : { kvCacheUsage: 0.123456, waitingQueue: i, runningRequests: 10 + i },
      scrapedAt: i === 2 ? undefined : 99_950,
      stale: i === 2,
    }));
    const s = buildStatusSnapshot(
      input({
        endpoints,
        maxEndpoints: 2,
        inflightOf: (id) => (id === '10.0.0.1:8000' ? 7 : 0),
        saturation: { value: 0.5, staleEndpoints: 1, endpoints: new Map([['10.0.0.1:8000', 0.25]]) },
      }),
    );
    expect(s.endpoints.total).toBe(3);
    expect(s.endpoints.list).toEqual([
      { id: '10.0.0.1:8000', kvCacheUsage: 0.1235, waiting: 1, running: 11, inflight: 7, scrapeAgeMs: 50, stale: false, saturation: 0.25 },
      { id: '10.0.0.2:8000', kvCacheUsage: null, waiting: null, running: null, inflight: 0, scrapeAgeMs: null, stale: true, saturation: 1 },
    ]);
    expect(s.saturation.staleEndpoints).toBe(1);
  });

  it('shows tenants under their hashed names when asked, with fair share and distance', () => {
    const named = tenantNamer('hashed');
    const s = buildStatusSnapshot(
      input({
        tenantName: named,
        queuedFor: (id) => (id === 'acme' ? 12 : 0),
        tenants: {
          active: 2,
          jainIndex: 0.8,
          top: [
            { id: 'acme', weight: 1, rate: 900, share: 0.9, fairShare: 0.5 },
            { id: 'globex', weight: 1, rate: 100, share: 0.1, fairShare: 0.5 },
          ],
          activeWindowSeconds: 60,
          decaySeconds: 30,
        },
        topQueued: [{ fairnessId: 'acme', priority: 0, queuedRequests: 12, inflight: 3, weight: 1 }],
      }),
    );
    expect(s.tenants.byServed.map((t) => [t.id, t.distance, t.queuedRequests])).toEqual([
      [hashTenantName('acme'), 0.4, 12],
      [hashTenantName('globex'), -0.4, 0],
    ]);
    expect(s.tenants.byQueued[0]?.id).toBe(hashTenantName('acme'));
    expect(JSON.stringify(s)).not.toContain('acme');
    expect(hashTenantName('acme')).toMatch(/^t-[0-9a-f]{12}$/);
  });

  it('summarizes the config with defaults filled in and unlimited values as null', () => {
    expect(config.bands).toEqual([
      { priority: 10, name: 'interactive', fairness: 'weighted-fair', ordering: 'fcfs', maxRequests: 5_000, maxBytes: 1e9, ttlMs: null, ceiling: null, overflow: 'fair-share' },
      { priority: -1, name: 'batch', fairness: 'weighted-fair', ordering: 'fcfs', maxRequests: 500, maxBytes: 1e9, ttlMs: 8_000, ceiling: null, overflow: 'reject' },
    ]);
    expect(config.maxQueuedRequests).toBeNull();
    expect(config.usageLimit).toEqual({ name: 'priority-holdback', params: { step: 0.1 } });
    expect(config.schedulerProfile).toBe('default');
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
  });
});
