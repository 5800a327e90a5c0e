// The primary of `serve --workers N` merges its workers' metrics: counters and the gauges that add up across
// workers are summed; any other gauge is kept once per worker under a `worker` label, never summed N-fold.
import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FAIRWAY_METRICS, WORKER_LABEL, mergeWorkerMetrics } from '../../../src/observability/index.js';
import { metricValue } from '../../support/service-harness.js';

async function worker(id: string, values: { requests: number; inflight: number; up: number; saturation: number }) {
  const registry = new Registry();
  new Counter({ name: 'inference_objective_request_total', help: 'h', registers: [registry] }).inc(values.requests);
  new Gauge({ name: FAIRWAY_METRICS.inflightRequests, help: 'h', registers: [registry] }).set(values.inflight);
  new Gauge({ name: FAIRWAY_METRICS.sharedStateUp, help: 'h', registers: [registry] }).set(values.up);
  new Gauge({ name: FAIRWAY_METRICS.endpointSaturation, help: 'h', labelNames: ['endpoint'], registers: [registry] }).set({ endpoint: 'a:1' }, values.saturation);
  return { worker: id, metrics: await registry.getMetricsAsJSON() };
}

describe('mergeWorkerMetrics', () => {
  it('sums counters and additive gauges, keeps other gauges once per worker', async () => {
    const merged = await mergeWorkerMetrics([
      await worker('1', { requests: 3, inflight: 2, up: 1, saturation: 0.5 }),
      await worker('2', { requests: 4, inflight: 5, up: 0, saturation: 0.7 }),
    ]).metrics();
    expect(metricValue(merged, 'inference_objective_request_total')).toBe(7);
    expect(metricValue(merged, FAIRWAY_METRICS.inflightRequests)).toBe(7);
    expect(merged).not.toMatch(new RegExp(`${FAIRWAY_METRICS.inflightRequests}\\{[^}]*${WORKER_LABEL}=`));
    expect(metricValue(merged, FAIRWAY_METRICS.sharedStateUp, { [WORKER_LABEL]: '1' })).toBe(1);
    expect(metricValue(merged, FAIRWAY_METRICS.sharedStateUp, { [WORKER_LABEL]: '2' })).toBe(0);
    expect(metricValue(merged, FAIRWAY_METRICS.endpointSaturation, { endpoint: 'a:1', [WORKER_LABEL]: '1' })).toBe(0.5);
    expect(metricValue(merged, FAIRWAY_METRICS.endpointSaturation, { endpoint: 'a:1', [WORKER_LABEL]: '2' })).toBe(0.7);
    // No unlabelled (summed) series of a non-additive gauge.
    expect(merged).not.toMatch(new RegExp(`^${FAIRWAY_METRICS.sharedStateUp} `, 'm'));
  });
});
