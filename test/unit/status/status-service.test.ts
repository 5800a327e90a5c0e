import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { ManualClock } from '../../../src/core/index.js';
import { FlowController, type FlowRequest } from '../../../src/flowcontrol/index.js';
import {
  type StatusSnapshot,
  type StatusSources,
  StatusRecorder,
  StatusService,
  summarizeConfig,
} from '../../../src/status/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { SettableSaturation } from '../../support/settable-saturation.js';

let nextId = 0;
function req(fairnessId: string, priority = 0, cost = 100): FlowRequest {
  return { id: `r${nextId++}`, fairnessId, priority, byteSize: 10, estimatedCost: cost };
}

function setup(options: { intervalMs?: number } = {}) {
  const clock = new ManualClock(1_000);
  const saturation = new SettableSaturation(0);
  const recorder = new StatusRecorder({ weightOf: (id) => (id === 'gold' ? 3 : 1) });
  const fc = new FlowController({
    saturation,
    clock,
    observer: recorder,
    bands: [{ priority: 10, name: 'high' }, { priority: 0, name: 'low' }],
    tenantWeights: { gold: 3 },
  });
  const sources: StatusSources = {
    flowControl: fc,
    saturation: {
      name: 'settable',
      details: () => ({ saturation: saturation.saturation(), staleEndpoints: 0, endpoints: new Map() }),
      settings: () => ({ limit: 1 }),
    },
    pool: { current: () => ({ endpoints: [] }) },
    inflight: { load: () => ({ requests: 0 }) },
  };
  const config = summarizeConfig(validateConfig({}), { detectorSettings: {}, schedulerProfile: undefined, tenantNames: 'plain' });
  const wall = 1_700_000_000_000;
  const service = new StatusService({
    sources,
    recorder,
    config: () => config,
    version: '9.9.9',
    clock,
    wallClock: () => wall + clock.now(),
    intervalMs: options.intervalMs ?? 250,
  });
  return { clock, saturation, recorder, fc, service };
}

describe('StatusService', () => {
  it('reports what flow control holds and did: queues per band, top tenants by queue, dispatch rates, shares', async () => {
    const { fc, saturation, service, clock } = setup();
    service.start();
    // One second of free flow: gold and bronze each served 10 requests of 100 tokens (released at once).
    for (let i = 0; i < 10; i++) {
      for (const t of ['gold', 'bronze']) {
        const o = await fc.enqueueAndWait(req(t));
        if (o.kind === 'dispatched') o.lease.release({ promptTokens: 50, outputTokens: 50 });
      }
    }
    clock.advance(1_000);
    // Then the pool fills up: requests queue, acme holds the most.
    saturation.set(1.5);
    for (let i = 0; i < 5; i++) void fc.enqueueAndWait(req('acme', 0));
    for (let i = 0; i < 2; i++) void fc.enqueueAndWait(req('bronze', 10));
    void fc.enqueueAndWait(req('gold', 0));
    await flushMicrotasks();
    clock.advance(500);

    const s = JSON.parse(service.json() ?? 'null') as StatusSnapshot;
    expect(s.version).toBe('9.9.9');
    expect(s.totals.queuedRequests).toBe(8);
    expect(s.bands.map((b) => [b.name, b.queuedRequests, b.gate, b.oldestWaitMs])).toEqual([
      ['high', 2, 'ceiling', 500],
      ['low', 6, 'ceiling', 500],
    ]);
    expect(s.tenants.byQueued.map((t) => [t.id, t.priority, t.queuedRequests])).toEqual([
      ['acme', 0, 5],
      ['bronze', 10, 2],
      ['gold', 0, 1],
    ]);
    // 20 dispatches over the 1.5 s since start (younger than the 5 s rate window).
    expect(s.totals.dispatchedPerSecond).toBeCloseTo(20 / 1.5, 1);
    expect(s.bands.find((b) => b.name === 'low')?.dispatchedPerSecond).toBeCloseTo(20 / 1.5, 1);
    // Served equally, but gold weighs 3 of the 5 active weights (acme has only queued: active, not served).
    const gold = s.tenants.byServed.find((t) => t.id === 'gold');
    const bronze = s.tenants.byServed.find((t) => t.id === 'bronze');
    expect(gold?.share).toBeCloseTo(0.5, 6);
    expect(gold?.fairShare).toBeCloseTo(3 / 5, 6);
    expect(gold?.distance).toBeCloseTo(0.5 - 0.6, 4);
    expect(bronze?.queuedRequests).toBe(2);
    expect(s.tenants.active).toBe(3);
    service.close();
  });

  it('samples once a second into the history and counts evictions by reason over the window', async () => {
    const { fc, saturation, service, clock } = setup();
    service.start();
    saturation.set(2);
    const ttl = { ...req('a'), ttlMs: 1_500 };
    void fc.enqueueAndWait(ttl);
    const ac = new AbortController();
    void fc.enqueueAndWait(req('b'), { signal: ac.signal });
    await flushMicrotasks();
    ac.abort();
    clock.advance(3_000);
    await flushMicrotasks();
    const s = service.snapshot();
    expect(s.outcomes.evicted).toEqual({ ttl: 1, cancelled: 1 });
    expect(s.history.times).toHaveLength(3);
    expect(s.history.saturation).toEqual([2, 2, 2]);
    // Cancelled in the first second, expired (1.5 s TTL) in the second.
    expect(s.history.evictedPerSecond).toEqual({ cancelled: [1, 0, 0], ttl: [0, 1, 0] });
    service.close();
  });

  it('coalesces reads, keeps recent snapshots by sequence number, and pushes about four per second to subscribers', () => {
    const { service, clock } = setup();
    service.start();
    const a = service.snapshot();
    expect(service.snapshot()).toBe(a);
    clock.advance(150);
    const b = service.json();
    const seqB = (JSON.parse(b ?? '{}') as StatusSnapshot).seq;
    expect(seqB).toBe(a.seq + 1);
    const got: number[] = [];
    const unsubscribe = service.subscribe((json, seq) => {
      expect((JSON.parse(json) as StatusSnapshot).seq).toBe(seq);
      got.push(seq);
    });
    expect(got).toEqual([seqB]);
    clock.advance(1_000);
    expect(got).toHaveLength(5);
    expect(new Set(got).size).toBe(5);
    expect(service.json(got[2])).toContain(`"seq":${got[2]}`);
    expect(service.json(-1)).toBeUndefined();
    unsubscribe();
    expect(service.subscribers).toBe(0);
    clock.advance(1_000);
    expect(got).toHaveLength(5);
    service.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('keeps feeding the other subscribers when one throws', () => {
    const { service, clock } = setup();
    let calls = 0;
    service.subscribe(() => {
      throw new Error('broken socket');
    });
    service.subscribe(() => calls++);
    clock.advance(500);
    expect(calls).toBe(3);
    service.close();
  });
});
