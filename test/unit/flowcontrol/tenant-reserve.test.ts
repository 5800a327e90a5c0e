import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { FlowController, type FlowControllerOptions, type Lease } from '../../../src/flowcontrol/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { ConcurrencyLimitSaturation } from '../../support/settable-saturation.js';

/**
 * A concurrency-limit pool that also paces prefill: `pacedSaturation()` is what the test sets (the detector's
 * figure for "every endpoint has half a step of prompts it has not started").
 */
class PacedSaturation extends ConcurrencyLimitSaturation {
  paced = 0;

  pacedSaturation(): number {
    return Math.max(this.saturation(), this.paced);
  }

  setPaced(value: number): void {
    this.paced = value;
    this.notify();
  }
}

/** A pool of `limit` slots (saturation = in flight / limit) and a controller whose dispatches hold a slot each. */
function pool(limit: number, options: Partial<FlowControllerOptions> = {}) {
  const clock = new ManualClock();
  const saturation = new PacedSaturation(limit);
  const flow = new FlowController({ saturation, clock, ...options });
  const held = new Map<string, Lease[]>();
  let seq = 0;
  const send = (tenant: string, n = 1): void => {
    for (let i = 0; i < n; i++) {
      flow.enqueue({ id: `${tenant}-${seq++}`, fairnessId: tenant, priority: 0, byteSize: 1, estimatedCost: 100 }, () => {}, {
        onDispatch: (lease) => {
          saturation.begin();
          const list = held.get(tenant) ?? [];
          list.push(lease);
          held.set(tenant, list);
        },
      });
    }
  };
  const finish = (tenant: string, n = 1): void => {
    for (let i = 0; i < n; i++) {
      const lease = held.get(tenant)?.shift();
      if (lease === undefined) return;
      lease.release();
      saturation.end();
    }
  };
  const running = (tenant: string): number => held.get(tenant)?.length ?? 0;
  const leases = (tenant: string): readonly Lease[] => held.get(tenant) ?? [];
  return { flow, send, finish, running, leases, saturation };
}

describe('tenant reserve', () => {
  it('lets a tenant alone in its band fill the whole pool', async () => {
    const p = pool(100, { tenantReserve: 0.1 });
    p.send('a', 150);
    await flushMicrotasks();
    expect(p.running('a')).toBe(100);
    await p.flow.close();
  });

  it('keeps the last tenantReserve of the pool from a tenant above its share while another has work, and gives it to the other at once', async () => {
    const p = pool(100, { tenantReserve: 0.1 });
    p.send('b'); // b has one request in flight (a fast-path lease)
    await flushMicrotasks();
    p.send('a', 150);
    await flushMicrotasks();
    expect(p.running('a')).toBe(89); // 89 + b's 1 = 90 in flight: saturation 0.9, the reserve starts
    p.send('b', 5);
    await flushMicrotasks();
    expect(p.running('b')).toBe(6); // b, below its share, starts at once in the reserve
    p.finish('a');
    await flushMicrotasks();
    expect(p.running('a')).toBe(88); // 94 in flight: still in the reserve, a waits
    p.finish('b', 6);
    await flushMicrotasks();
    expect(p.running('a')).toBe(100); // b gone: a alone again, it takes the whole pool
    await p.flow.close();
  });

  it('takes the runner-up tenant when the one fairness picks is held by the reserve', async () => {
    const p = pool(100, { tenantReserve: 0.1, tenantWeights: { a: 1, b: 1 } });
    p.send('a', 95);
    p.send('b', 1);
    await flushMicrotasks();
    // Both queued from the start of a cycle (a first): a stops at the reserve, b's request goes in it.
    expect(p.running('b')).toBe(1);
    expect(p.running('a') + p.running('b')).toBeLessThanOrEqual(100);
    expect(p.running('a')).toBeLessThan(95);
    await p.flow.close();
  });

  it('is off at tenantReserve 0: the heavy tenant fills the pool and the light one waits', async () => {
    const p = pool(100, { tenantReserve: 0 });
    p.send('b');
    await flushMicrotasks();
    p.send('a', 150);
    await flushMicrotasks();
    expect(p.running('a')).toBe(99);
    p.send('b');
    await flushMicrotasks();
    expect(p.running('b')).toBe(1);
    await p.flow.close();
  });

  it('rejects a tenantReserve outside [0, 1)', () => {
    const saturation = new ConcurrencyLimitSaturation(1);
    expect(() => new FlowController({ saturation, tenantReserve: 1 })).toThrow(/tenantReserve/);
    expect(() => new FlowController({ saturation, tenantReserve: -0.1 })).toThrow(/tenantReserve/);
  });

  it('property: the reserve holds work back only inside the reserve, never a tenant alone, and never past the ceiling', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ tenant: fc.constantFrom('a', 'b', 'c'), op: fc.constantFrom('send', 'finish'), n: fc.integer({ min: 1, max: 30 }) }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 4 }),
        async (ops, weightA) => {
          const limit = 40;
          const reserve = 0.25;
          const p = pool(limit, { tenantReserve: reserve, tenantWeights: { a: weightA } });
          const tenants = ['a', 'b', 'c'];
          for (const { tenant, op, n } of ops) {
            if (op === 'send') p.send(tenant, n);
            else p.finish(tenant, n);
            await flushMicrotasks();
            const inflight = tenants.reduce((sum, t) => sum + p.running(t), 0);
            expect(inflight).toBeLessThanOrEqual(limit);
            const waiting = tenants.filter((t) => p.flow.queuedFor(t) > 0);
            if (waiting.length === 0 || inflight >= limit) continue;
            // Work waits although the pool has room: only inside the reserve...
            expect(inflight).toBeGreaterThanOrEqual(limit * (1 - reserve));
            // ...and only while some other tenant has work too.
            const withWork = tenants.filter((t) => p.running(t) > 0 || p.flow.queuedFor(t) > 0);
            expect(withWork.length).toBeGreaterThan(1);
          }
          await p.flow.close();
        },
      ),
      { numRuns: 80, seed: 1313 },
    );
  });

  describe('prefill pacing (pacedSaturation at the ceiling)', () => {
    it('holds the tenant above its share while every endpoint has prefill queued, lets the other tenant through, and resumes when prompts start', async () => {
      const p = pool(100, { tenantReserve: 0.02 });
      p.saturation.setPaced(1); // prompts queued everywhere; the gate itself has room
      p.send('a', 20);
      await flushMicrotasks();
      expect(p.running('a')).toBe(20); // alone in its band: pacing never holds it
      p.send('b', 3);
      await flushMicrotasks();
      expect(p.running('b')).toBe(3); // below its share: not held
      p.send('a', 5);
      await flushMicrotasks();
      expect(p.running('a')).toBe(20); // above its share while b has work: waits although saturation is 0.23
      expect(p.flow.queuedFor('a')).toBe(5);
      p.saturation.setPaced(0.5); // first tokens arrived: room for prompts again
      await flushMicrotasks();
      expect(p.running('a')).toBe(25);
      await p.flow.close();
    });

    it('never holds a tenant alone in its band, and marks its leases as not paced', async () => {
      const p = pool(100, { tenantReserve: 0.02 });
      p.saturation.setPaced(5);
      p.send('a', 30);
      await flushMicrotasks();
      expect(p.running('a')).toBe(30);
      expect(p.leases('a').every((l) => l.pacePrefill === false)).toBe(true);
      await p.flow.close();
    });

    it('marks leases dispatched while another tenant of the band has work as paced, so routing avoids prefill backlogs', async () => {
      const p = pool(100, { tenantReserve: 0 });
      p.send('a');
      await flushMicrotasks();
      p.send('b');
      await flushMicrotasks();
      expect(p.leases('a')[0]?.pacePrefill).toBe(false); // alone when dispatched
      expect(p.leases('b')[0]?.pacePrefill).toBe(true); // a had work in flight
      await p.flow.close();
    });

    it('without a pacing source (pacedSaturation absent) nothing is held and no lease is marked', async () => {
      const clock = new ManualClock();
      const saturation = new ConcurrencyLimitSaturation(100);
      const flow = new FlowController({ saturation, clock, tenantReserve: 0.02 });
      const leases: Lease[] = [];
      for (const [i, tenant] of ['a', 'b', 'a', 'b'].entries()) {
        flow.enqueue({ id: `${tenant}-${i}`, fairnessId: tenant, priority: 0, byteSize: 1, estimatedCost: 1 }, () => {}, {
          onDispatch: (lease) => {
            saturation.begin();
            leases.push(lease);
          },
        });
      }
      await flushMicrotasks();
      expect(leases).toHaveLength(4);
      expect(leases.every((l) => l.pacePrefill !== true)).toBe(true);
      await flow.close();
    });
  });
});
