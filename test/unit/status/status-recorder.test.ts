import { describe, expect, it } from 'vitest';
import { COUNTER, StatusRecorder } from '../../../src/status/index.js';

const labels = { model: 'm', targetModel: 'm', objective: 'o', fairnessId: 't', priority: 0, queueMs: 0, scheduleMs: 0, endpoint: undefined };

describe('StatusRecorder', () => {
  it('counts dispatches per band, shed per drop reason, queue and in-flight evictions per reason, whatever the reasons', () => {
    const r = new StatusRecorder();
    r.onOutcome({ kind: 'dispatched', reason: undefined, priority: 10, fairnessId: 'a', waitMs: 0 });
    r.onOutcome({ kind: 'dispatched', reason: undefined, priority: -1, fairnessId: 'b', waitMs: 0 });
    r.onOutcome({ kind: 'evicted', reason: 'ttl', priority: -1, fairnessId: 'b', waitMs: 5 });
    // Rejections reach clients as shed decisions; the outcome alone counts nothing.
    r.onOutcome({ kind: 'rejected', reason: 'capacity', priority: -1, fairnessId: 'c', waitMs: 0 });
    r.onDecision({ ...labels, result: 'capacity', status: 429 });
    r.onDecision({ ...labels, result: 'some-future-reason', status: 503 });
    r.onDecision({ ...labels, result: 'routed', status: 200 });
    // A front end's own refusal (before the pipeline) is shed too.
    r.onRefused({ reason: 'unsupported-processing-mode', status: 500 });
    const victim = { reason: 'preempted' as const, priority: -1, fairnessId: 'b', forPriority: 10, progress: 3, ranMs: 40 };
    r.onInflightEviction({ ...victim, outcome: 'evicted' });
    r.onInflightEviction({ ...victim, outcome: 'declined' });
    r.count('evicted', 'pool-unreachable');
    expect(Object.fromEntries(r.counters())).toEqual({
      [COUNTER.dispatched]: 2,
      [COUNTER.dispatchedBand(10)]: 1,
      [COUNTER.dispatchedBand(-1)]: 1,
      [COUNTER.routed]: 1,
      [COUNTER.shed]: 3,
      'shed:capacity': 1,
      'shed:some-future-reason': 1,
      'shed:unsupported-processing-mode': 1,
      'evicted:ttl': 1,
      'evicted:in-flight:preempted': 1,
      'evicted:pool-unreachable': 1,
    });
    // A refused or evicted tenant is active at once, a dispatched one when its lease is released; released
    // leases count as service (the actual usage, else the estimate), and an active tenant served nothing shows
    // with a zero share.
    expect(r.tenants.activeTenants).toBe(2);
    r.onRelease(0, 'a', 100, 250);
    r.onRelease(0, 'b', 100, undefined);
    expect(r.tenants.activeTenants).toBe(3);
    expect(r.tenants.topServed().map((t) => [t.id, t.share])).toEqual([
      ['a', 250 / 350],
      ['b', 100 / 350],
      ['c', 0],
    ]);
  });
});
