// A request held in the scale-from-zero waiting room keeps the deadline it arrived with: when the first endpoint
// appears and the request goes on to flow control, its TTL (its own x-fairway-request-ttl-ms, or the default)
// counts from its arrival, not from the moment it left the waiting room. A client whose deadline is spent waiting
// for a cold start is not held for a second full TTL.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TTL_MS } from '../../../src/flowcontrol/index.js';
import { type Decision } from '../../../src/gateway/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { inferenceRequest, pipelineFixture } from '../../support/pipeline-fixture.js';
import { endpoint } from '../../support/static-pool.js';

/** An empty pool with a long waiting room; the endpoint that appears is full, so the request then queues. */
async function heldThenQueued(headers: Record<string, string>, appearAtMs: number) {
  const f = await pipelineFixture({ endpoints: [], saturation: 1, extra: { noEndpointTtlMs: 10 * DEFAULT_TTL_MS } });
  let decision: Decision | undefined;
  void f.pipeline.handle(inferenceRequest({ model: 'm', prompt: 'x' }, headers)).then((d) => (decision = d));
  await flushMicrotasks();
  f.clock.advance(appearAtMs);
  f.pool.set([endpoint('10.0.0.1', 8000)]);
  await flushMicrotasks();
  expect(decision).toBeUndefined();
  expect(f.fc.stats().queuedRequests).toBe(1);
  const at = async (ms: number): Promise<Decision | undefined> => {
    f.clock.advance(ms - f.clock.now());
    await flushMicrotasks();
    return decision;
  };
  return { at };
}

describe('a request held while the pool was empty', () => {
  it('expires at arrival + its own TTL once queued, not a full TTL after an endpoint appeared', async () => {
    const r = await heldThenQueued({ 'x-fairway-request-ttl-ms': '1000' }, 600);
    expect(await r.at(999)).toBeUndefined();
    expect(await r.at(1000)).toMatchObject({ kind: 'reject', status: 429, reason: 'ttl' });
  });

  it('expires at arrival + the default TTL when it sent none', async () => {
    const r = await heldThenQueued({}, DEFAULT_TTL_MS / 2);
    expect(await r.at(DEFAULT_TTL_MS - 1)).toBeUndefined();
    expect(await r.at(DEFAULT_TTL_MS)).toMatchObject({ kind: 'reject', status: 429, reason: 'ttl' });
  });
});
