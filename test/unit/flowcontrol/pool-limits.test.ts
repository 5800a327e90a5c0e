// Concurrency and queue caps in one controller: a tenant at its concurrency cap waits while other tenants go
// ahead, and goes on as its own requests end; the cap over all tenants holds everyone; a queue cap refuses
// (`capacity`) what would queue beyond it; caps change live; a budget that grows lets held work go.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import {
  FlowController,
  type FlowControllerOptions,
  type FlowRequest,
  type Lease,
  type LimitBudget,
  type LimitKind,
  type LimitUsageSource,
} from '../../../src/flowcontrol/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { SettableSaturation } from '../../support/settable-saturation.js';

let nextId = 0;
function req(fairnessId: string, partial: Partial<FlowRequest> = {}): FlowRequest {
  return { id: `r${nextId++}`, fairnessId, priority: 0, byteSize: 100, estimatedCost: 10, ...partial };
}

function setup(options: Partial<FlowControllerOptions>) {
  const clock = new ManualClock();
  const saturation = new SettableSaturation(0);
  const fc = new FlowController({ saturation, clock, ...options });
  const leases: Lease[] = [];
  const dispatched: string[] = [];
  const refused: string[] = [];
  const submit = (tenant: string, partial: Partial<FlowRequest> = {}): void =>
    fc.enqueue(req(tenant, partial), (o) => {
      if (o.kind === 'dispatched') {
        leases.push(o.lease);
        dispatched.push(tenant);
      } else if (o.kind === 'rejected') refused.push(`${tenant}:${o.reason}`);
    });
  const release = (tenant: string): void => {
    const i = leases.findIndex((l) => l.fairnessId === tenant);
    leases.splice(i, 1)[0]!.release();
  };
  const inflightOf = (tenant: string): number => leases.filter((l) => l.fairnessId === tenant).length;
  return { fc, saturation, submit, release, leases, dispatched, refused, inflightOf };
}

describe('pool limits in one controller', () => {
  it('a tenant at its concurrency cap waits while others go ahead; each of its releases lets one more go', async () => {
    const h = setup({ limits: { tenants: { a: { maxConcurrency: 2 } } } });
    for (let i = 0; i < 5; i++) h.submit('a');
    h.submit('b');
    h.submit('b');
    await flushMicrotasks();
    expect(h.inflightOf('a')).toBe(2);
    expect(h.inflightOf('b')).toBe(2);
    expect(h.fc.stats().queuedRequests).toBe(3);
    expect(h.fc.stats().heldAtCaps).toBe(3);
    h.release('a');
    await flushMicrotasks();
    expect(h.inflightOf('a')).toBe(2);
    expect(h.fc.stats().queuedRequests).toBe(2);
    h.release('b');
    await flushMicrotasks();
    expect(h.inflightOf('a')).toBe(2);
    while (h.inflightOf('a') > 0) {
      h.release('a');
      await flushMicrotasks();
    }
    expect(h.fc.stats().queuedRequests).toBe(0);
    expect(h.dispatched.filter((t) => t === 'a')).toHaveLength(5);
  });

  it('a tenant held at its cap does not block a lower band', async () => {
    const h = setup({ limits: { tenant: { maxConcurrency: 1 } } });
    h.submit('a', { priority: 5 });
    h.submit('a', { priority: 5 });
    h.submit('b', { priority: -1 });
    await flushMicrotasks();
    expect(h.inflightOf('a')).toBe(1);
    expect(h.inflightOf('b')).toBe(1);
  });

  it('the cap over all tenants holds everyone; releases let the queue go in fair order', async () => {
    const h = setup({ limits: { maxConcurrency: 3 } });
    for (let i = 0; i < 4; i++) h.submit('a');
    for (let i = 0; i < 4; i++) h.submit('b');
    await flushMicrotasks();
    expect(h.leases).toHaveLength(3);
    for (let i = 0; i < 5; i++) {
      h.release(h.leases[0]!.fairnessId);
      await flushMicrotasks();
      expect(h.leases).toHaveLength(3);
    }
    expect(h.fc.stats().queuedRequests).toBe(0);
    expect(h.dispatched.filter((t) => t === 'a')).toHaveLength(4);
  });

  it('queue caps refuse what would queue beyond them, per tenant and over all tenants', async () => {
    const h = setup({ limits: { maxQueued: 5, tenant: { maxQueued: 3 } } });
    h.saturation.set(1);
    for (let i = 0; i < 4; i++) h.submit('a');
    for (let i = 0; i < 4; i++) h.submit('b');
    await flushMicrotasks();
    expect(h.fc.stats().queuedRequests).toBe(5);
    expect(h.refused).toEqual(['a:capacity', 'b:capacity', 'b:capacity']);
  });

  it('a cap lowered live holds the tenant at the next dispatch; raised, it lets held work go', async () => {
    const h = setup({ limits: { tenant: { maxConcurrency: 4 } } });
    for (let i = 0; i < 2; i++) h.submit('a');
    await flushMicrotasks();
    h.fc.reconfigure({ limits: { tenant: { maxConcurrency: 2 } } });
    for (let i = 0; i < 3; i++) h.submit('a');
    await flushMicrotasks();
    expect(h.inflightOf('a')).toBe(2);
    h.fc.reconfigure({ limits: { tenant: { maxConcurrency: 5 } } });
    await flushMicrotasks();
    expect(h.inflightOf('a')).toBe(5);
  });

  it('a larger budget (shared state) lets a held tenant go without any release', async () => {
    let part = 1;
    let wake = (): void => {};
    const budget: LimitBudget = {
      attach: (_source: LimitUsageSource, w: () => void) => {
        wake = w;
      },
      allowance: (_kind: LimitKind, _tenant: string | undefined, cap: number) => Math.min(cap, part),
    };
    const h = setup({ limits: { tenant: { maxConcurrency: 10 } }, limitBudget: budget });
    for (let i = 0; i < 4; i++) h.submit('a');
    await flushMicrotasks();
    expect(h.inflightOf('a')).toBe(1);
    part = 3;
    wake();
    await flushMicrotasks();
    expect(h.inflightOf('a')).toBe(3);
  });
});
