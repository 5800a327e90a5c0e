import { describe, expect, it } from 'vitest';
import { EvictionEntry, evictsBefore } from '../../../src/flowcontrol/index.js';
import { EvictionHarness } from '../../support/eviction-harness.js';

/** Fills a pool of `limit` with sheddable requests, then returns the harness with the pool full. */
async function fullOfBatch(n: number, options = {}, mode: 'sync' | 'later' | 'decline' = 'sync'): Promise<EvictionHarness> {
  const h = new EvictionHarness(options, n);
  for (let i = 0; i < n; i++) h.arrive(-1, 0, 100 + i, mode);
  await h.step({ op: 'advance', ms: 1 });
  expect(h.tracked.every((t) => t.lease !== undefined)).toBe(true);
  return h;
}

describe('in-flight eviction', () => {
  it('takes back a sheddable request when higher-priority work is blocked, and the freed capacity goes to it', async () => {
    const h = await fullOfBatch(4);
    const urgent = h.arrive(1, 1, 50, 'sync');
    await h.step({ op: 'advance', ms: 0 });
    expect(h.calls).toHaveLength(1);
    expect(urgent.outcomes[0]?.kind).toBe('dispatched');
    const victim = h.tracked[h.calls[0]!.victim]!;
    expect(victim.priority).toBe(-1);
    // The victim was dispatched (its one outcome) and is now released; nobody got a second outcome.
    expect(victim.outcomes.map((o) => o.kind)).toEqual(['dispatched']);
    expect(h.events).toMatchObject([{ outcome: 'evicted', reason: 'preempted', priority: -1, forPriority: 1 }]);
    expect(h.fc.stats().evictionsOutstanding).toBe(0);
    await h.close();
  });

  it('never evicts priority >= 0 by default, and does when the bound is raised', async () => {
    const h = new EvictionHarness({}, 2);
    h.arrive(0, 0, 10, 'sync');
    h.arrive(0, 0, 10, 'sync');
    await h.step({ op: 'advance', ms: 1 });
    h.arrive(5, 1, 10, 'sync');
    await h.step({ op: 'advance', ms: 50 });
    expect(h.calls).toHaveLength(0);
    expect(h.fc.stats().evictableInflight).toBe(0);
    await h.close();

    const raised = new EvictionHarness({ inflightEviction: { belowPriority: 1 } }, 2);
    raised.arrive(0, 0, 10, 'sync');
    raised.arrive(0, 0, 10, 'sync');
    await raised.step({ op: 'advance', ms: 1 });
    raised.arrive(5, 1, 10, 'sync');
    await raised.step({ op: 'advance', ms: 0 });
    expect(raised.calls).toHaveLength(1);
    await raised.close();
  });

  it('evicts only strictly lower priority than the blocked band', async () => {
    const h = new EvictionHarness({}, 2);
    h.arrive(-1, 0, 10, 'sync');
    h.arrive(-1, 0, 10, 'sync');
    await h.step({ op: 'advance', ms: 1 });
    h.arrive(-1, 1, 10, 'sync'); // same band as the running ones: waits
    await h.step({ op: 'advance', ms: 50 });
    expect(h.calls).toHaveLength(0);
    h.arrive(-3, 2, 10, 'sync');
    const blockedAbove = h.arrive(-2, 3, 10, 'sync');
    await h.step({ op: 'advance', ms: 50 });
    // -2 is blocked (the head band among queued: -1 first, which cannot evict its own band).
    expect(h.calls).toHaveLength(0);
    expect(blockedAbove.outcomes).toHaveLength(0);
    await h.close();
  });

  it('issues one eviction per blocked request and no more while earlier ones have not landed', async () => {
    const h = await fullOfBatch(6, {}, 'later');
    h.arrive(1, 1, 10, 'sync');
    h.arrive(1, 2, 10, 'sync');
    await h.step({ op: 'advance', ms: 30 });
    await h.step({ op: 'advance', ms: 30 });
    expect(h.calls).toHaveLength(2);
    expect(h.fc.stats().evictionsOutstanding).toBe(2);
    await h.step({ op: 'land' });
    expect(h.fc.stats().evictionsOutstanding).toBe(0);
    expect(h.tracked.filter((t) => t.priority === 1).every((t) => t.outcomes[0]?.kind === 'dispatched')).toBe(true);
    expect(h.calls).toHaveLength(2);
    await h.close();
  });

  it('moves on to the next victim when one declines, and gives the declined attempt its token back', async () => {
    const h = new EvictionHarness({ inflightEviction: { burst: 1, maxPerSecond: 0.001 } }, 2);
    h.arrive(-1, 0, 500, 'decline'); // the rule's first pick (most remaining tokens)
    h.arrive(-1, 0, 100, 'sync');
    await h.step({ op: 'advance', ms: 1 });
    const urgent = h.arrive(1, 1, 10, 'sync');
    await h.step({ op: 'advance', ms: 0 });
    expect(h.calls.map((c) => c.victim)).toEqual([0, 1]);
    expect(h.events.map((e) => e.outcome)).toEqual(['declined', 'evicted']);
    expect(urgent.outcomes[0]?.kind).toBe('dispatched');
    await h.close();
  });

  it('holds to the rate limit: a burst, then the sustained rate', async () => {
    const h = await fullOfBatch(10, { inflightEviction: { burst: 2, maxPerSecond: 10 } }, 'later');
    for (let i = 0; i < 5; i++) h.arrive(1, 1, 10, 'sync');
    await h.step({ op: 'advance', ms: 1 });
    expect(h.calls).toHaveLength(2);
    await h.step({ op: 'advance', ms: 60 }); // 0.6 of a token: nothing yet
    expect(h.calls).toHaveLength(2);
    await h.step({ op: 'advance', ms: 60 });
    expect(h.calls).toHaveLength(3);
    await h.close();
  });

  it('pauses after evictions that land without letting blocked work dispatch', async () => {
    // The gate stays shut whatever is released: a limit of 0 that evictions cannot lift.
    const h = await fullOfBatch(6, { inflightEviction: { maxUnproductive: 3, unproductivePauseMs: 500 } });
    h.saturation.setLimit(0.5);
    h.arrive(1, 1, 10, 'sync');
    await h.step({ op: 'advance', ms: 5 });
    await h.step({ op: 'advance', ms: 5 });
    expect(h.calls).toHaveLength(3);
    await h.step({ op: 'advance', ms: 400 });
    expect(h.calls).toHaveLength(3);
    await h.step({ op: 'advance', ms: 200 });
    expect(h.calls.length).toBeGreaterThan(3);
    await h.close();
  });

  it('never chooses a request that finished before the decision', async () => {
    const h = await fullOfBatch(3);
    // The rule's favourite (most remaining tokens, newest) finishes first.
    await h.step({ op: 'finish', pick: 2 });
    h.saturation.setLimit(2);
    h.arrive(1, 1, 10, 'sync');
    h.arrive(1, 1, 10, 'sync');
    await h.step({ op: 'advance', ms: 1 });
    expect(h.calls.length).toBeGreaterThan(0);
    for (const c of h.calls) expect(c.afterRelease).toBe(false);
    expect(h.calls.some((c) => c.victim === 2)).toBe(false);
    await h.close();
  });

  it('prefers the request with the least progress, then the most remaining tokens, then the newest', () => {
    const owner = undefined as never;
    const target = { evict: () => true };
    const e = (progress: number, cost: number, at: number, seq: number): EvictionEntry => {
      const entry = new EvictionEntry(owner, target, -1, 'x', cost, at, seq);
      entry.progress = progress;
      return entry;
    };
    expect(evictsBefore(e(0, 100, 0, 0), e(5, 1000, 0, 1))).toBe(true); // less progress first
    expect(evictsBefore(e(0, 1000, 0, 0), e(0, 100, 5, 1))).toBe(true); // then more remaining
    expect(evictsBefore(e(0, 100, 5, 0), e(0, 100, 1, 1))).toBe(true); // then newest
    expect(evictsBefore(e(0, 100, 5, 1), e(0, 100, 5, 0))).toBe(true); // then the later dispatch
    expect(evictsBefore(e(0, 100, 5, 0), e(0, 100, 5, 1))).toBe(false);
  });

  it('reorders victims as progress is reported', async () => {
    const h = await fullOfBatch(3);
    // All equal but cost: the rule would take #2 (cost 102) first; progress on it moves #1 ahead.
    await h.step({ op: 'progress', pick: 2, tokens: 5 });
    h.arrive(1, 1, 10, 'sync');
    await h.step({ op: 'advance', ms: 0 });
    expect(h.calls[0]?.victim).toBe(1);
    await h.close();
  });

  it('does nothing when disabled, or for requests enqueued without a target', async () => {
    const h = await fullOfBatch(2, { inflightEviction: { enabled: false } });
    h.arrive(1, 1, 10, 'sync');
    await h.step({ op: 'advance', ms: 50 });
    expect(h.calls).toHaveLength(0);
    expect(h.tracked.every((t) => t.lease?.evictable !== true)).toBe(true);
    await h.close();
  });

  it('takes a live reconfiguration: disabled, nothing more is evicted; enabled again, it is', async () => {
    const h = await fullOfBatch(4);
    h.fc.reconfigure({ inflightEviction: { enabled: false } });
    h.arrive(1, 1, 10, 'sync');
    await h.step({ op: 'advance', ms: 50 });
    expect(h.calls).toHaveLength(0);
    h.fc.reconfigure({ inflightEviction: { enabled: true } });
    await h.step({ op: 'advance', ms: 50 });
    expect(h.calls).toHaveLength(1);
    await h.close();
  });

  it('rejects bad options with the field named', () => {
    expect(() => new EvictionHarness({ inflightEviction: { belowPriority: 0.5 } })).toThrow(/inflightEviction.belowPriority/);
    expect(() => new EvictionHarness({ inflightEviction: { maxPerSecond: 0 } })).toThrow(/inflightEviction.maxPerSecond/);
    expect(() => new EvictionHarness({ inflightEviction: { maxUnproductive: 0 } })).toThrow(/inflightEviction.maxUnproductive/);
  });
});
