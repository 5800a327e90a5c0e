// Fairway end to end under a saturated pool, driven as Envoy drives it: requests wait in flow control, overflow
// is answered 429 with Retry-After, a cancelled stream leaves the queue, unknown objectives land at priority 0,
// and opening the pool dispatches by priority (and fairly between tenants within a band).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeMetrics } from '../../../src/simulator/index.js';
import { type EnvoyStream, immediateOf } from '../../support/envoy-ext-proc-client.js';
import {
  type ServiceHarness,
  completionBody,
  inferenceHeaders,
  metricValue,
  openRequest,
  queuedInBand,
  startService,
  streamStatus,
  waitFor,
  waitForIdle,
  waitForScrape,
} from '../../support/service-harness.js';

const FULL: FakeMetrics = { waiting: 100, running: 32, kvUsage: 0.9 };
const OBJECTIVES = { interactive: 10, tiny: 5, standard: 0, batch: -1 };

let h: ServiceHarness;

async function saturate(): Promise<void> {
  for (const sim of h.pool.simulators) sim.setFakeMetrics(FULL);
  await waitForScrape(h.server, h.ids, (e) => e.metrics?.waitingQueue === 100);
  await waitFor('pool saturation >= 1', () => h.server.saturation.saturation() >= 1);
}

beforeAll(async () => {
  h = await startService({
    replicas: 2,
    fakeMetrics: [FULL, FULL],
    config: {
      objectives: OBJECTIVES,
      tenants: { 'capped-tenant': { weight: 1, maxPriority: 0 } },
      flowControl: {
        defaultTtlMs: 20_000,
        bands: [
          { priority: 10, name: 'interactive' },
          { priority: 5, name: 'tiny', maxRequests: 2 },
          { priority: 0, name: 'standard' },
          { priority: -1, name: 'batch' },
        ],
      },
    },
  });
  await saturate();
});

afterAll(async () => {
  await h?.close();
});

const open: EnvoyStream[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) s.cancel();
  await waitForIdle(h.server);
});

function enqueue(tenant: string, objective: string | undefined, prompt = 'queued request'): EnvoyStream {
  const s = openRequest(h.client, inferenceHeaders(tenant, objective), completionBody({ prompt }));
  open.push(s);
  return s;
}

describe('a saturated pool', () => {
  it('holds requests in flow control instead of routing them', async () => {
    const s = enqueue('tenant-hold', 'standard');
    await waitFor('one queued request', () => h.server.flowControl.stats().queuedRequests === 1);
    expect(s.pending()).toBe(0);
    expect(h.server.flowControl.stats().inflight).toBe(0);
  });

  it('gives an unknown objective priority 0 and a known one its configured priority', async () => {
    enqueue('tenant-objective', 'no-such-objective');
    await waitFor('the unknown objective in band 0', () => queuedInBand(h.server, 0) === 1);
    enqueue('tenant-objective', 'interactive');
    await waitFor('the interactive request in band 10', () => queuedInBand(h.server, 10) === 1);
    enqueue('tenant-objective', undefined);
    await waitFor('the request without objective in band 0', () => queuedInBand(h.server, 0) === 2);
    // A tenant capped at priority 0 claiming the interactive objective is clamped to band 0.
    enqueue('capped-tenant', 'interactive');
    await waitFor('the capped request in band 0', () => queuedInBand(h.server, 0) === 3);
    expect(h.server.flowControl.stats().queuedRequests).toBe(4);
    expect(queuedInBand(h.server, 10)).toBe(1);
    expect(queuedInBand(h.server, 5)).toBe(0);
    expect(queuedInBand(h.server, -1)).toBe(0);
  });

  it('answers 429 ttl with Retry-After when a queued request outlives its TTL while endpoints exist', async () => {
    const ex = await h.client.sendRequest({
      headers: inferenceHeaders('tenant-ttl', 'standard', { 'x-fairway-request-ttl-ms': '150' }),
      bodyChunks: [completionBody()],
    });
    expect(ex.immediate?.status).toBe(429);
    expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('ttl');
    expect(ex.immediate?.headers.get('retry-after')).toBe('1');
    expect((await streamStatus(ex.stream)).code).toBe(0);
    expect(h.server.flowControl.stats().queuedRequests).toBe(0);
  });

  it('answers 429 with Retry-After and a drop reason once a band is full', async () => {
    enqueue('tenant-tiny', 'tiny', 'first');
    enqueue('tenant-tiny', 'tiny', 'second');
    await waitFor('the tiny band full', () => queuedInBand(h.server, 5) === 2);
    const ex = await h.client.sendRequest({
      headers: inferenceHeaders('tenant-tiny', 'tiny', { 'x-request-id': 'over-1' }),
      bodyChunks: [completionBody({ prompt: 'third' })],
    });
    expect(ex.immediate?.status).toBe(429);
    expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('capacity');
    expect(ex.immediate?.headers.get('retry-after')).toBe('1');
    expect(ex.immediate?.headers.get('x-request-id')).toBe('over-1');
    expect(ex.immediate?.body).toMatch(/\S/);
    expect((await streamStatus(ex.stream)).code).toBe(0);
    // The two queued ones are untouched; other bands still admit.
    expect(queuedInBand(h.server, 5)).toBe(2);
    enqueue('tenant-tiny', 'standard');
    await waitFor('a standard request queued', () => queuedInBand(h.server, 0) === 1);
    const text = await h.server.registry.metrics();
    expect(metricValue(text, 'fairway_shed_requests_total', { reason: 'capacity', status: '429', priority: '5' })).toBe(1);
  });

  it('removes a request whose stream is cancelled while queued, with every counter back to zero', async () => {
    const cancelledBefore = metricValue(await h.server.registry.metrics(), 'fairway_shed_requests_total', { reason: 'cancelled' });
    const stream = enqueue('tenant-cancel', 'batch');
    const other = enqueue('tenant-stays', 'batch');
    await waitFor('two queued in band -1', () => queuedInBand(h.server, -1) === 2);
    const bytesBefore = h.server.flowControl.stats().queuedBytes;
    stream.cancel();
    await waitFor('the cancelled request to leave the queue', () => queuedInBand(h.server, -1) === 1);
    const st = h.server.flowControl.stats();
    expect(st.queuedRequests).toBe(1);
    expect(st.queuedBytes).toBeLessThan(bytesBefore);
    expect(st.inflight).toBe(0);
    expect((await streamStatus(stream)).code).toBe(1); // CANCELLED, as the client asked
    // Envoy half-closing the stream (the downstream request ended) also takes the request out of the queue.
    other.end();
    expect((await streamStatus(other)).code).toBe(0);
    await waitForIdle(h.server);
    const after = h.server.flowControl.stats();
    expect(after.queuedRequests).toBe(0);
    expect(after.queuedBytes).toBe(0);
    expect(after.inflight).toBe(0);
    expect(h.server.inflight.totalRequests()).toBe(0);
    expect(metricValue(await h.server.registry.metrics(), 'fairway_shed_requests_total', { reason: 'cancelled' }) - cancelledBefore).toBe(2);
  });
});

describe('opening the pool', () => {
  it('dispatches by priority first, and fairly between the tenants of one band', async () => {
    const order: string[] = [];
    const streams: Promise<void>[] = [];
    const submit = (label: string, tenant: string, objective: string, i: number): void => {
      const s = enqueue(tenant, objective, `${label} ${i}`);
      streams.push(
        s.expectNext(15_000).then((first) => {
          if (immediateOf(first) !== undefined) throw new Error(`${label} ${i} was rejected: ${JSON.stringify(first)}`);
          order.push(label);
          s.end(); // done with it: releases the lease and the in-flight ticket
        }),
      );
    };
    // Lowest priorities arrive first; tenant A floods the standard band before tenant B shows up.
    for (let i = 0; i < 3; i++) submit('batch', 'load-batch', 'batch', i);
    for (let i = 0; i < 4; i++) submit('standard-a', 'load-a', 'standard', i);
    for (let i = 0; i < 2; i++) submit('standard-b', 'load-b', 'standard', i);
    for (let i = 0; i < 3; i++) submit('interactive', 'load-i', 'interactive', i);
    await waitFor('12 queued requests', () => h.server.flowControl.stats().queuedRequests === 12);
    expect(order).toEqual([]);

    for (const sim of h.pool.simulators) sim.setFakeMetrics(undefined);
    try {
      await Promise.all(streams);
    } finally {
      await saturate();
    }
    expect(order.slice(0, 3)).toEqual(['interactive', 'interactive', 'interactive']);
    const standard = order.slice(3, 9);
    expect(standard.every((l) => l.startsWith('standard'))).toBe(true);
    expect(order.slice(9)).toEqual(['batch', 'batch', 'batch']);
    // Equal weights: B is not starved behind A's backlog; both of its requests go among the first four.
    expect(standard.slice(0, 4).filter((l) => l === 'standard-b')).toHaveLength(2);
  });
});
