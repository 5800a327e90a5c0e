// Every flow-queue implementation, through every ordering policy, against a sorted-array reference.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orderingPolicies, type OrderingPolicy } from '../../src/flowcontrol/index.js';
import { makeFlow, makeItem } from '../support/queue-items.js';


const ops = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('push' as const), expiresAt: fc.integer({ min: 0, max: 50 }), slo: fc.integer({ min: 0, max: 50 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('pop' as const) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }) },
  ),
  { maxLength: 300, size: 'max' },
);

describe.each(orderingPolicies.names().map((n) => [n, orderingPolicies.get(n)] as [string, OrderingPolicy]))(
  'flow queue of ordering %s',
  (_name, policy) => {
    it('arbitrary removal keeps the queue in policy order (the Go heap corrupted on this)', () => {
      fc.assert(
        fc.property(ops, (steps) => {
          const q = makeFlow('q', 0, 1, policy.name).queue;
          const reference: ReturnType<typeof makeItem>[] = [];
          let seq = 0;
          const sort = () => reference.sort((a, b) => (policy.before(a, b) ? -1 : policy.before(b, a) ? 1 : 0));
          for (const s of steps) {
            if (s.op === 'push') {
              const item = makeItem({ seq: seq++, expiresAt: s.expiresAt, sloDeadline: s.slo });
              q.push(item);
              reference.push(item);
              sort();
            } else if (s.op === 'pop') {
              expect(q.pop()).toBe(reference.shift());
            } else {
              const victim = reference[s.pick % Math.max(1, reference.length)];
              if (victim !== undefined) {
                expect(q.remove(victim)).toBe(true);
                expect(q.remove(victim)).toBe(false);
                reference.splice(reference.indexOf(victim), 1);
              }
            }
            expect(q.size).toBe(reference.length);
            expect(q.peek()).toBe(reference[0]);
          }
          // Draining yields exactly the reference order.
          const drained = [];
          for (let i = q.pop(); i !== undefined; i = q.pop()) drained.push(i);
          expect(drained).toEqual(reference);
        }),
        { numRuns: 200 },
      );
    });

    it('orders strictly: before() is irreflexive and antisymmetric, ties broken by arrival', () => {
      const a = makeItem({ seq: 1, expiresAt: 10, sloDeadline: 10 });
      const b = makeItem({ seq: 2, expiresAt: 10, sloDeadline: 10 });
      expect(policy.before(a, a)).toBe(false);
      expect(policy.before(a, b)).toBe(true);
      expect(policy.before(b, a)).toBe(false);
    });
  },
);

describe('ordering semantics', () => {
  it('fcfs follows arrival, edf the TTL deadline, slo-deadline the TTFT objective', () => {
    const early = makeItem({ seq: 2, expiresAt: 5, sloDeadline: 50 });
    const late = makeItem({ seq: 1, expiresAt: 50, sloDeadline: 5 });
    expect(orderingPolicies.get('fcfs').before(late, early)).toBe(true);
    expect(orderingPolicies.get('edf').before(early, late)).toBe(true);
    expect(orderingPolicies.get('slo-deadline').before(late, early)).toBe(true);
  });
});
