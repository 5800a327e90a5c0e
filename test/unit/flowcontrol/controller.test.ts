import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import {
  FlowController,
  type FlowControllerOptions,
  type FlowRequest,
  type Outcome,
} from '../../../src/flowcontrol/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { ConcurrencyLimitSaturation, SettableSaturation } from '../../support/settable-saturation.js';

let nextId = 0;
function req(partial: Partial<FlowRequest> = {}): FlowRequest {
  return { id: `r${nextId++}`, fairnessId: 'a', priority: 0, byteSize: 100, estimatedCost: 10, ...partial };
}

function setup(options: Partial<FlowControllerOptions> = {}, initial = 0) {
  const clock = new ManualClock();
  const saturation = new SettableSaturation(initial);
  const fc = new FlowController({ saturation, clock, ...options });
  return { clock, saturation, fc };
}

function track(p: Promise<Outcome>): { outcome: Outcome | undefined } {
  const box: { outcome: Outcome | undefined } = { outcome: undefined };
  void p.then((o) => (box.outcome = o));
  return box;
}

describe('FlowController', () => {
  it('dispatches at once when the pool has room and nothing waits', async () => {
    const { fc } = setup();
    const o = await fc.enqueueAndWait(req());
    expect(o.kind).toBe('dispatched');
    expect(fc.stats().inflight).toBe(1);
    if (o.kind === 'dispatched') o.lease.release();
    expect(fc.stats().inflight).toBe(0);
  });

  it('holds requests while saturated and dispatches them in priority order when the gate opens', async () => {
    const { fc, saturation } = setup({}, 1.0);
    const order: number[] = [];
    const boxes = [0, 5, -1, 5, 0].map((priority) =>
      track(fc.enqueueAndWait(req({ priority }), { onDispatch: () => order.push(priority) })),
    );
    await flushMicrotasks();
    expect(boxes.every((b) => b.outcome === undefined)).toBe(true);
    expect(fc.stats().queuedRequests).toBe(5);
    saturation.set(0);
    await flushMicrotasks();
    expect(order).toEqual([5, 5, 0, 0, -1]);
    expect(fc.stats().queuedRequests).toBe(0);
  });

  it('while the pool is unavailable: every queued request leaves at once, new ones are refused, in flight is kept; then it resumes', async () => {
    const { fc, saturation } = setup({}, 0);
    const running = await fc.enqueueAndWait(req({ priority: 5 }));
    saturation.set(1.0);
    const queued = [0, 5, -1].map((priority) => track(fc.enqueueAndWait(req({ priority }))));
    await flushMicrotasks();
    expect(fc.stats().queuedRequests).toBe(3);

    fc.setUnavailable('no endpoint answers');
    await flushMicrotasks();
    expect(queued.map((b) => b.outcome && [b.outcome.kind, b.outcome.kind === 'dispatched' ? '' : b.outcome.reason])).toEqual([
      ['evicted', 'unavailable'],
      ['evicted', 'unavailable'],
      ['evicted', 'unavailable'],
    ]);
    const first = queued[0]?.outcome;
    expect(first?.kind === 'evicted' && first.message).toMatch(/^no endpoint answers \(priority 0/);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 1 });
    expect(fc.unavailableReason).toBe('no endpoint answers');
    saturation.set(0); // even with room, nothing is dispatched to a pool that cannot be reached
    expect(await fc.enqueueAndWait(req({ priority: 9 }))).toEqual({ kind: 'rejected', reason: 'unavailable', message: 'no endpoint answers' });

    fc.setUnavailable(undefined);
    expect(fc.unavailableReason).toBeUndefined();
    saturation.set(1.0);
    const held = track(fc.enqueueAndWait(req()));
    await flushMicrotasks();
    expect(held.outcome).toBeUndefined(); // held again, as saturation asks
    saturation.set(0);
    await flushMicrotasks();
    expect(held.outcome?.kind).toBe('dispatched');
    if (running.kind === 'dispatched') running.lease.release();
  });

  describe('pass-through (flow control off for priority >= 0, as the Go EPP without flow control)', () => {
    it('dispatches priority >= 0 at once with every endpoint over its thresholds; sheddable work still waits', async () => {
      const { fc, saturation } = setup({ passThrough: true }, 1.5);
      const sheddable = track(fc.enqueueAndWait(req({ priority: -1 })));
      await flushMicrotasks();
      // Something is queued (the sheddable request), so these take the queue path, and still go at once.
      const routed = [0, 7, 0].map((priority) => track(fc.enqueueAndWait(req({ priority }))));
      await flushMicrotasks();
      expect(routed.map((b) => b.outcome?.kind)).toEqual(['dispatched', 'dispatched', 'dispatched']);
      expect(sheddable.outcome).toBeUndefined();
      expect(fc.stats().bands.map((b) => [b.priority, b.ceiling, b.queuedRequests])).toEqual([
        [7, Infinity, 0],
        [0, Infinity, 0],
        [-1, 1, 1],
      ]);
      saturation.set(0.5);
      await flushMicrotasks();
      expect(sheddable.outcome?.kind).toBe('dispatched');
    });

    it('queuing turns back on band by band; a pass-through band is never held behind a held band above it', async () => {
      const { fc } = setup({ passThrough: true, bands: [{ priority: 10, passThrough: false }, { priority: 0 }] }, 1.5);
      const held = track(fc.enqueueAndWait(req({ priority: 10 })));
      await flushMicrotasks();
      const below = track(fc.enqueueAndWait(req({ priority: 0 })));
      await flushMicrotasks();
      expect(held.outcome).toBeUndefined();
      expect(below.outcome?.kind).toBe('dispatched');
    });

    it('under weighted arbitration too', async () => {
      const { fc } = setup({ passThrough: true, arbitration: { name: 'weighted' }, bands: [{ priority: 10, passThrough: false }] }, 1.5);
      const held = track(fc.enqueueAndWait(req({ priority: 10 })));
      await flushMicrotasks();
      const below = track(fc.enqueueAndWait(req({ priority: 0 })));
      await flushMicrotasks();
      expect([held.outcome?.kind, below.outcome?.kind]).toEqual([undefined, 'dispatched']);
    });

    it('is off by default, and refused on a sheddable band', () => {
      const { fc } = setup({ bands: [{ priority: 0 }] });
      expect(fc.stats().bands[0]?.ceiling).toBe(1);
      expect(() => setup({ bands: [{ priority: -1, passThrough: true }] })).toThrow(/bands\[-1\]\.passThrough/);
    });
  });

  it('evicts a queued request with ttl at its deadline, not later', async () => {
    const { fc, clock } = setup({ defaultTtlMs: 1_000 }, 1.0);
    const box = track(fc.enqueueAndWait(req()));
    clock.advance(999);
    await flushMicrotasks();
    expect(box.outcome).toBeUndefined();
    clock.advance(1);
    await flushMicrotasks();
    expect(box.outcome).toMatchObject({ kind: 'evicted', reason: 'ttl', waitMs: 1_000 });
    expect(fc.stats().queuedRequests).toBe(0);
  });

  it('takes the smallest of default, band and request TTL', async () => {
    const { fc, clock } = setup({ defaultTtlMs: 10_000, bands: [{ priority: 0, ttlMs: 5_000 }] }, 1.0);
    const band = track(fc.enqueueAndWait(req()));
    const own = track(fc.enqueueAndWait(req({ ttlMs: 2_000 })));
    clock.advance(2_000);
    await flushMicrotasks();
    expect(own.outcome).toMatchObject({ kind: 'evicted', reason: 'ttl' });
    expect(band.outcome).toBeUndefined();
    clock.advance(3_000);
    await flushMicrotasks();
    expect(band.outcome).toMatchObject({ kind: 'evicted', reason: 'ttl' });
  });

  it('removes a cancelled request from its queue at once and drops its listener', async () => {
    const { fc } = setup({}, 1.0);
    const ac = new AbortController();
    const box = track(fc.enqueueAndWait(req(), { signal: ac.signal }));
    await flushMicrotasks();
    expect(fc.stats().queuedRequests).toBe(1);
    ac.abort();
    expect(fc.stats().queuedRequests).toBe(0);
    await flushMicrotasks();
    expect(box.outcome).toMatchObject({ kind: 'evicted', reason: 'cancelled' });
  });

  it('rejects with capacity when a band is full, naming the band and its limit', async () => {
    const { fc } = setup({ bands: [{ priority: 0, maxRequests: 2 }] }, 1.0);
    void fc.enqueueAndWait(req());
    void fc.enqueueAndWait(req());
    const o = await fc.enqueueAndWait(req());
    expect(o).toMatchObject({ kind: 'rejected', reason: 'capacity' });
    expect(o.kind === 'rejected' && o.message).toContain('2/2 requests');
  });

  it('displaces the newest request of the lowest band when a higher priority arrives at global capacity', async () => {
    const { fc } = setup({ maxQueuedRequests: 3 }, 1.0);
    const lowOld = track(fc.enqueueAndWait(req({ priority: -1 })));
    const lowNew = track(fc.enqueueAndWait(req({ priority: -1 })));
    const mid = track(fc.enqueueAndWait(req({ priority: 0 })));
    const high = track(fc.enqueueAndWait(req({ priority: 5 })));
    await flushMicrotasks();
    expect(lowNew.outcome).toMatchObject({ kind: 'evicted', reason: 'displaced' });
    expect(lowOld.outcome).toBeUndefined();
    expect(mid.outcome).toBeUndefined();
    expect(high.outcome).toBeUndefined();
    expect(fc.stats().queuedRequests).toBe(3);
    // Equal priority never displaces: the newcomer is rejected instead.
    const same = await fc.enqueueAndWait(req({ priority: -1 }));
    expect(same).toMatchObject({ kind: 'rejected', reason: 'capacity' });
  });

  it('makes room in a full band by evicting the newest request of the tenant holding the most of it', async () => {
    const { fc } = setup({ bands: [{ priority: 0, maxRequests: 4 }] }, 1.0);
    const a = [0, 1, 2, 3].map(() => track(fc.enqueueAndWait(req({ fairnessId: 'a' }))));
    const b1 = track(fc.enqueueAndWait(req({ fairnessId: 'b' })));
    await flushMicrotasks();
    expect(a[3]!.outcome).toMatchObject({ kind: 'evicted', reason: 'fair-share' });
    expect(a.slice(0, 3).every((x) => x.outcome === undefined)).toBe(true);
    expect(b1.outcome).toBeUndefined();
    // a: 3, b: 1 -> b may take one more of a's places, then they are even and the next newcomer is refused.
    void fc.enqueueAndWait(req({ fairnessId: 'b' }));
    await flushMicrotasks();
    expect(a[2]!.outcome).toMatchObject({ kind: 'evicted', reason: 'fair-share' });
    expect(await fc.enqueueAndWait(req({ fairnessId: 'b' }))).toMatchObject({ kind: 'rejected', reason: 'capacity' });
    expect(fc.stats().queuedRequests).toBe(4);
  });

  it('evicts nobody for a newcomer that is refused anyway (band has a fair-share victim, global bytes are full)', async () => {
    const { fc } = setup({ bands: [{ priority: 0, maxRequests: 3 }], maxQueuedBytes: 3_000 }, 1.0);
    const a = [0, 1, 2].map(() => track(fc.enqueueAndWait(req({ fairnessId: 'a', byteSize: 900 }))));
    // b's request would take a's newest place in the band, but it is too big for the global byte limit.
    expect(await fc.enqueueAndWait(req({ fairnessId: 'b', byteSize: 2_000 }))).toMatchObject({ kind: 'rejected', reason: 'capacity' });
    await flushMicrotasks();
    expect(a.every((x) => x.outcome === undefined)).toBe(true);
    expect(fc.stats().queuedRequests).toBe(3);
  });

  it('weighs queue space by tenant weight, and never evicts under overflow "reject"', async () => {
    const weighted = setup({ bands: [{ priority: 0, maxRequests: 4 }], tenantWeights: { gold: 3 } }, 1.0);
    for (let i = 0; i < 3; i++) void weighted.fc.enqueueAndWait(req({ fairnessId: 'gold' }));
    void weighted.fc.enqueueAndWait(req({ fairnessId: 'bronze' }));
    // gold holds 3 places at weight 3 (1 per unit), bronze would hold 2 at weight 1: no eviction.
    expect(await weighted.fc.enqueueAndWait(req({ fairnessId: 'bronze' }))).toMatchObject({ kind: 'rejected', reason: 'capacity' });
    const strict = setup({ bands: [{ priority: 0, maxRequests: 2, overflow: 'reject' }] }, 1.0);
    const held = [0, 1].map(() => track(strict.fc.enqueueAndWait(req({ fairnessId: 'a' }))));
    expect(await strict.fc.enqueueAndWait(req({ fairnessId: 'b' }))).toMatchObject({ kind: 'rejected', reason: 'capacity' });
    await flushMicrotasks();
    expect(held.every((x) => x.outcome === undefined)).toBe(true);
  });

  it('refuses invalid requests with an error naming the field', async () => {
    const { fc } = setup();
    await expect(fc.enqueueAndWait(req({ byteSize: -1 }))).rejects.toThrow(/request\.byteSize/);
    await expect(fc.enqueueAndWait(req({ estimatedCost: Number.NaN }))).rejects.toThrow(/request\.estimatedCost/);
    await expect(fc.enqueueAndWait(req({ fairnessId: '' }))).rejects.toThrow(/request\.fairnessId/);
    await expect(fc.enqueueAndWait(req({ priority: 1e12 }))).rejects.toThrow(/request\.priority/);
    await expect(fc.enqueueAndWait(req({ priority: 0.5 }))).rejects.toThrow(/request\.priority/);
    await expect(fc.enqueueAndWait(req({ estimatedCost: 1e308 }))).rejects.toThrow(/request\.estimatedCost/);
    expect(fc.stats().queuedRequests).toBe(0);
    expect(fc.stats().liveFlows).toBe(0);
  });

  it('keeps weighted fairness working after a lying model server reports an absurd actual cost', async () => {
    // Queued first, so the lease is charged to the liar's flow (a fast-path dispatch carries no fairness state).
    const { fc, saturation } = setup({}, 1);
    const pending = fc.enqueueAndWait(req({ fairnessId: 'liar' }));
    saturation.set(0);
    const first = await pending;
    if (first.kind !== 'dispatched') throw new Error('expected a dispatch');
    saturation.set(1);
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      for (const t of ['liar', 'honest']) void fc.enqueueAndWait(req({ fairnessId: t }), { onDispatch: () => order.push(t) });
    }
    first.lease.release({ promptTokens: 1e15, outputTokens: 1e15 });
    saturation.set(0);
    await flushMicrotasks();
    // The liar is charged the clamped maximum (not 2e15, not Infinity): the honest tenant goes first, and everyone
    // is still served (a non-finite report would be ignored as unusable).
    expect(order).toHaveLength(6);
    expect(order.slice(0, 3)).toEqual(['honest', 'honest', 'honest']);
  });

  it('refuses tenant weights that would wreck counter precision, naming the field', () => {
    expect(() => setup({ tenantWeights: { tiny: 1e-9 } })).toThrow(/tenantWeights\.tiny/);
    expect(() => setup({ defaultTenantWeight: 1e9 })).toThrow(/defaultTenantWeight/);
  });

  it('bounds live flows: a flood of fairness ids is refused once no idle flow can be dropped', async () => {
    const { fc } = setup({ maxFlows: 3 }, 1.0);
    for (const t of ['a', 'b', 'c']) void fc.enqueueAndWait(req({ fairnessId: t }));
    const o = await fc.enqueueAndWait(req({ fairnessId: 'd' }));
    expect(o).toMatchObject({ kind: 'rejected', reason: 'flow-limit' });
    expect(fc.stats().liveFlows).toBe(3);
  });

  it('never collects a band while a fast-path lease of it is in flight, so a lower band\'s holdback stays in force', async () => {
    // priority-holdback: p0 stops at 0.9 while p10 exists. A long p10 stream holds a fast-path lease (no flow).
    const { fc, saturation, clock } = setup({ bandIdleTtlMs: 1_000, usageLimit: { name: 'priority-holdback' } }, 0);
    const stream = await fc.enqueueAndWait(req({ priority: 10 }));
    if (stream.kind !== 'dispatched') throw new Error('expected a dispatch');
    saturation.set(0.95);
    const low = track(fc.enqueueAndWait(req({ priority: 0 })));
    for (let t = 0; t < 3_000; t += 100) {
      clock.advance(100);
      await flushMicrotasks();
    }
    expect(fc.stats().bands.map((b) => b.priority)).toEqual([10, 0]);
    expect(low.outcome).toBeUndefined();
    // Once the stream ends the band is idle, and collected after its TTL.
    stream.lease.release();
    clock.advance(2_500);
    await flushMicrotasks();
    expect(fc.stats().bands.map((b) => b.priority)).toEqual([0]);
  });

  it('does not evict a band with a fast-path lease in flight to make room for a new priority at the band limit', async () => {
    const { fc } = setup({ maxBands: 1 }, 0);
    const held = await fc.enqueueAndWait(req({ priority: 10 }));
    expect(held.kind).toBe('dispatched');
    const other = await fc.enqueueAndWait(req({ priority: 5 }));
    expect(other).toMatchObject({ kind: 'rejected', reason: 'capacity' });
    if (held.kind === 'dispatched') held.lease.release();
    expect(await fc.enqueueAndWait(req({ priority: 5 }))).toMatchObject({ kind: 'dispatched' });
  });

  it('keeps static bands for ever and collects idle on-demand bands and flows', async () => {
    const { fc, clock } = setup({ bands: [{ priority: 7, maxRequests: 9 }], flowIdleTtlMs: 100, bandIdleTtlMs: 100 });
    const a = await fc.enqueueAndWait(req({ priority: 7 }));
    const b = await fc.enqueueAndWait(req({ priority: 3 }));
    expect(fc.stats().bands.map((x) => x.priority)).toEqual([7, 3]);
    if (a.kind === 'dispatched') a.lease.release();
    if (b.kind === 'dispatched') b.lease.release();
    clock.advance(1_000);
    clock.advance(1_000);
    expect(fc.stats().bands.map((x) => x.priority)).toEqual([7]);
    expect(fc.stats().liveFlows).toBe(0);
    // The static band kept its own limit.
    expect(fc.stats().bands[0]?.name).toBe('priority-7');
  });

  it('close evicts every queued request with shutdown, leaves no timers or listeners, and is idempotent', async () => {
    const clock = new ManualClock();
    const saturation = new ConcurrencyLimitSaturation(1);
    const fc = new FlowController({ saturation, clock });
    saturation.begin();
    const boxes = [0, 1, 2].map(() => track(fc.enqueueAndWait(req(), { signal: new AbortController().signal })));
    await flushMicrotasks();
    await Promise.all([fc.close(), fc.close()]);
    await flushMicrotasks();
    expect(boxes.map((b) => b.outcome?.kind === 'evicted' && b.outcome.reason)).toEqual(['shutdown', 'shutdown', 'shutdown']);
    expect(clock.pendingTimers()).toBe(0);
    expect(saturation.listenerCount).toBe(0);
    const late = await fc.enqueueAndWait(req());
    expect(late).toMatchObject({ kind: 'rejected', reason: 'shutdown' });
  });

  it('drain lets queued work finish and resolves when nothing is queued or in flight', async () => {
    const clock = new ManualClock();
    const saturation = new ConcurrencyLimitSaturation(1);
    const fc = new FlowController({ saturation, clock });
    const leases: Array<() => void> = [];
    const onDispatch = (l: { release(): void }) => {
      saturation.begin();
      leases.push(() => {
        l.release();
        saturation.end();
      });
    };
    const boxes = [0, 1].map(() => track(fc.enqueueAndWait(req(), { onDispatch })));
    let drained = false;
    void fc.drain().then(() => (drained = true));
    expect(await fc.enqueueAndWait(req())).toMatchObject({ kind: 'rejected', reason: 'shutdown' });
    await flushMicrotasks();
    expect(leases.length).toBe(1);
    leases[0]!();
    await flushMicrotasks();
    expect(leases.length).toBe(2);
    expect(drained).toBe(false);
    leases[1]!();
    await flushMicrotasks();
    expect(drained).toBe(true);
    expect(boxes.every((b) => b.outcome?.kind === 'dispatched')).toBe(true);
  });

  it('lets onDispatch work count against the very next gate check of the same cycle', async () => {
    const clock = new ManualClock();
    const saturation = new ConcurrencyLimitSaturation(2);
    const fc = new FlowController({ saturation, clock });
    saturation.inflight = 2;
    for (let i = 0; i < 5; i++) void fc.enqueueAndWait(req(), { onDispatch: () => saturation.begin() });
    await flushMicrotasks();
    saturation.inflight = 0;
    saturation.end();
    saturation.inflight = 0;
    saturation.setLimit(2);
    await flushMicrotasks();
    expect(saturation.inflight).toBe(2);
    expect(fc.stats().queuedRequests).toBe(3);
  });
});
