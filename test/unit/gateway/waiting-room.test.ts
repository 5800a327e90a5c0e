// The scale-from-zero waiting room: requests wait while the pool has no endpoints, go the moment one appears,
// and otherwise leave at their deadline, when their client leaves, or at shutdown; each exactly once.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { EndpointWaitingRoom, PendingRequests, type WaitResult } from '../../../src/gateway/index.js';
import { StaticPool, endpoint } from '../../support/static-pool.js';
import { flushMicrotasks } from '../../support/flush.js';

function room(): { room: EndpointWaitingRoom; pool: StaticPool; clock: ManualClock } {
  const clock = new ManualClock();
  const pool = new StaticPool([]);
  return { room: new EndpointWaitingRoom(pool, clock), pool, clock };
}

describe('EndpointWaitingRoom', () => {
  it('releases every waiter, in arrival order, when the first endpoint appears', async () => {
    const { room: r, pool } = room();
    const order: string[] = [];
    const waits = ['a', 'b', 'c'].map((id) => r.wait(10_000, new AbortController().signal).then((res) => order.push(`${id}:${res}`)));
    expect(r.size).toBe(3);
    pool.set([]); // a new snapshot that is still empty releases nobody
    await flushMicrotasks();
    expect(order).toEqual([]);
    pool.set([endpoint('10.0.0.1', 8000)]);
    await Promise.all(waits);
    expect(order).toEqual(['a:ready', 'b:ready', 'c:ready']);
    expect(r.size).toBe(0);
    // With an endpoint present a request does not wait at all.
    await expect(r.wait(1, new AbortController().signal)).resolves.toBe('ready');
  });

  it('times out at the deadline, and a cancelled client leaves at once', async () => {
    const { room: r, clock } = room();
    const ac = new AbortController();
    const results: WaitResult[] = [];
    const timed = r.wait(500, new AbortController().signal).then((x) => results.push(x));
    const cancelled = r.wait(10_000, ac.signal).then((x) => results.push(x));
    clock.advance(499);
    await flushMicrotasks();
    expect(results).toEqual([]);
    ac.abort();
    await cancelled;
    clock.advance(1);
    await timed;
    expect(results).toEqual(['cancelled', 'timeout']);
    expect(r.size).toBe(0);
    await expect(r.wait(10, ac.signal)).resolves.toBe('cancelled');
  });

  it('answers shutdown to every waiter and to later ones', async () => {
    const { room: r, pool } = room();
    const w = r.wait(10_000, new AbortController().signal);
    r.close();
    await expect(w).resolves.toBe('shutdown');
    pool.set([endpoint('10.0.0.1', 8000)]);
    await expect(r.wait(10, new AbortController().signal)).resolves.toBe('shutdown');
  });
});

describe('PendingRequests', () => {
  it('counts by stage, priority and model, each request out exactly once', () => {
    const p = new PendingRequests();
    const a = p.add('queued', 0, 'llama');
    const b = p.add('queued', 0, 'llama');
    const c = p.add('waiting-for-endpoints', -1, 'qwen');
    expect(p.snapshot()).toEqual([
      { stage: 'queued', priority: 0, targetModel: 'llama', requests: 2 },
      { stage: 'waiting-for-endpoints', priority: -1, targetModel: 'qwen', requests: 1 },
    ]);
    a();
    a();
    c();
    expect(p.snapshot()).toEqual([{ stage: 'queued', priority: 0, targetModel: 'llama', requests: 1 }]);
    b();
    expect(p.snapshot()).toEqual([]);
  });
});
