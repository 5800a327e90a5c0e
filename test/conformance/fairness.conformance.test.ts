// Every registered fairness policy must honour the FairnessState contract the controller relies on.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Flow, fairnessPolicies, orderingPolicies } from '../../src/flowcontrol/index.js';
import { makeFlow, makeItem } from '../support/queue-items.js';

describe.each(fairnessPolicies.names())('fairness policy %s', (name) => {
  const policy = fairnessPolicies.get(name);
  const newState = () => policy.newState({ ordering: orderingPolicies.get('fcfs'), priority: 0, wake: () => {} });

  it('picks nothing when no flow is active', () => {
    expect(newState().pick()).toBeUndefined();
  });

  it('only ever picks an active flow, and every active flow is eventually picked (no starvation)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ flow: fc.integer({ min: 0, max: 5 }), cost: fc.integer({ min: 1, max: 100 }) }), { minLength: 1, maxLength: 60 }),
        (arrivals) => {
          const state = newState();
          const flows = Array.from({ length: 6 }, (_, i) => makeFlow(`f${i}`, i));
          let seq = 0;
          for (const a of arrivals) {
            const flow = flows[a.flow]!;
            const item = makeItem({ seq: seq++, flow });
            const wasEmpty = flow.queue.size === 0;
            flow.queue.push(item);
            if (wasEmpty) state.activate(flow);
          }
          const active = () => new Set(flows.filter((f) => f.queue.size > 0));
          const picked = new Set<Flow>();
          let guard = 0;
          for (let f = state.pick(); f !== undefined; f = state.pick()) {
            expect(active().has(f)).toBe(true);
            picked.add(f);
            const wasHead = f.queue.pop()!;
            expect(wasHead).toBeDefined();
            if (f.queue.size === 0) state.deactivate(f);
            else state.headChanged(f);
            state.charge(f, 10);
            if (++guard > 1_000) throw new Error('pick never ends');
          }
          expect(active().size).toBe(0);
          expect(picked).toEqual(new Set(flows.filter((f) => arrivals.some((a) => flows[a.flow] === f))));
        },
      ),
    );
  });

  it('forgets a deactivated flow at once', () => {
    const state = newState();
    const a = makeFlow('a', 0);
    a.queue.push(makeItem({ seq: 0, flow: a }));
    state.activate(a);
    a.queue.pop();
    state.deactivate(a);
    expect(state.pick()).toBeUndefined();
  });

  it('accepts cost corrections for active and inactive flows without losing flows', () => {
    const state = newState();
    const a = makeFlow('a', 0);
    const b = makeFlow('b', 1);
    for (const f of [a, b]) {
      f.queue.push(makeItem({ seq: f.seq, flow: f }));
      state.activate(f);
    }
    state.correct(a, 500);
    state.correct(b, -5);
    const seen = new Set<Flow>();
    for (let f = state.pick(); f !== undefined; f = state.pick()) {
      seen.add(f);
      f.queue.pop();
      state.deactivate(f);
    }
    expect(seen).toEqual(new Set([a, b]));
  });
});

describe('weighted-fair correction', () => {
  it('a flow whose actual cost exceeded its estimate waits while the other catches up', () => {
    const state = fairnessPolicies.get('weighted-fair').newState({ ordering: orderingPolicies.get('fcfs'), priority: 0, wake: () => {} });
    const a = makeFlow('a', 0);
    const b = makeFlow('b', 1);
    for (const f of [a, b]) {
      for (let i = 0; i < 5; i++) f.queue.push(makeItem({ seq: f.seq * 10 + i, flow: f }));
      state.activate(f);
    }
    state.charge(a, 100);
    state.charge(b, 100);
    state.correct(a, 300); // a really used 400 tokens
    const next = [0, 1, 2].map(() => {
      const f = state.pick()!;
      state.charge(f, 100);
      return f.fairnessId;
    });
    expect(next).toEqual(['b', 'b', 'b']);
  });
});
