// Live reload while requests are queued: objectives, tenant weights, band limits (lowered below the queue) and
// TTLs, scorer weights and saturation thresholds change several times while 240 requests wait behind a full
// pool. Nothing queued is dropped or re-queued (the queue holds exactly as many after each reload), an invalid
// reload changes nothing, and once the pool has room every request is routed: 0 lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FairwayConfig, validateConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/core/index.js';
import { type ServiceHarness, completionBody, inferenceHeaders, metricValue, startService, waitFor } from '../../support/service-harness.js';

const FULL = { waiting: 50, running: 32, kvUsage: 0.97 };
const TENANTS = ['acme', 'globex', 'initech'];
const N = 240;

let h: ServiceHarness;

beforeAll(async () => {
  h = await startService({
    replicas: 2,
    fakeMetrics: [FULL, FULL],
    config: {
      objectives: { chat: 5, batch: 0 },
      tenants: { acme: { weight: 1 } },
      flowControl: { defaultTtlMs: 60_000, bands: [{ priority: 5, maxRequests: 1_000 }, { priority: 0, maxRequests: 1_000 }] },
    },
  });
});

afterAll(async () => {
  await h?.close();
});

function variant(i: number, base: FairwayConfig): FairwayConfig {
  const raw = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  raw.objectives = { chat: 5 + (i % 2), batch: 0, extra: i };
  raw.tenants = { acme: { weight: 1 + i }, globex: { weight: 2, maxPriority: 10 } };
  raw.flowControl = {
    ...raw.flowControl,
    defaultTtlMs: 60_000 - i * 1_000,
    bands: [{ priority: 5, maxRequests: 20 + i }, { priority: 0, maxRequests: 10 + i, ttlMs: 50_000 }],
  };
  raw.saturation = { detector: i % 2 === 0 ? 'utilization' : 'hybrid', options: { stalenessMs: 2_000, kvThreshold: 0.8 + i / 100 } };
  raw.scheduler = { ...raw.scheduler, profile: { filters: [], scorers: [{ type: 'queue-scorer', weight: 1 + i }, { type: 'kv-cache-utilization-scorer', weight: 2 }], picker: { type: 'max-score-picker' } } };
  return validateConfig(raw);
}

describe('configuration reload under load', () => {
  it('changes objectives, weights, limits, TTLs, scorer weights and thresholds live with 0 lost requests', async () => {
    const streams = Array.from({ length: N }, (_, i) =>
      h.client.sendRequest({
        headers: inferenceHeaders(TENANTS[i % TENANTS.length] as string, i % 2 === 0 ? 'chat' : 'batch'),
        bodyChunks: [completionBody({ prompt: `reload probe ${i}` })],
      }),
    );
    await waitFor('all requests queued', () => h.server.flowControl.stats().queuedRequests === N, 10_000);
    const base = h.server.config;
    for (let i = 1; i <= 5; i++) {
      const before = h.server.flowControl.stats().queuedRequests;
      const report = h.server.applyConfig(variant(i, base));
      expect(report.result).toBe('applied');
      expect(report.changed).toEqual(expect.arrayContaining(['objectives', 'tenants', 'flowControl.bands', 'saturation.options']));
      expect(h.server.flowControl.stats().queuedRequests).toBe(before);
      expect(h.server.objectives.get('extra')).toBe(i);
    }
    // A band limit far below the queue turns newcomers away but keeps what waits.
    expect(h.server.flowControl.stats().bands.find((b) => b.priority === 0)?.queuedRequests).toBeGreaterThan(15);
    // An invalid configuration (a scorer that does not exist) changes nothing.
    const bad = structuredClone(variant(6, base)) as unknown as Record<string, Record<string, unknown>>;
    bad.scheduler = { ...bad.scheduler, profile: { filters: [], scorers: [{ type: 'no-such-scorer', weight: 1 }], picker: { type: 'max-score-picker' } } };
    expect(() => h.server.applyConfig(validateConfig(bad))).toThrow(ConfigError);
    expect(h.server.objectives.get('extra')).toBe(5);
    expect(h.server.flowControl.stats().queuedRequests).toBe(N);

    for (const sim of h.pool.simulators) sim.setFakeMetrics(undefined);
    const exchanges = await Promise.all(streams);
    const routed = exchanges.filter((ex) => ex.immediate === undefined && ex.setHeaders.has('x-gateway-destination-endpoint'));
    for (const ex of exchanges) ex.stream.end();
    expect(routed).toHaveLength(N);
    const metrics = await (await fetch(`http://127.0.0.1:${h.ports.metrics}/metrics`)).text();
    expect(metricValue(metrics, 'fairway_config_reloads_total', { result: 'applied' })).toBe(5);
    expect(metricValue(metrics, 'fairway_config_reloads_total', { result: 'invalid' })).toBe(1);
  });
});
