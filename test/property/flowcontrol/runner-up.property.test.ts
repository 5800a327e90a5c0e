import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexedHeap } from '../../../src/core/index.js';
import { Band, Flow } from '../../../src/flowcontrol/index.js';
import { unboundedBandSettings } from '../../support/queue-items.js';

interface Keyed {
  key: number;
  id: number;
  index: number;
}

const slot = { get: (k: Keyed) => k.index, set: (k: Keyed, i: number) => void (k.index = i) };
const less = (a: Keyed, b: Keyed): boolean => a.key < b.key || (a.key === b.key && a.id < b.id);


describe('runner-up (the tenant reserve skips the picked flow for it)', () => {
  it('property: IndexedHeap.peekSecond is what pop() returns once the top is popped', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom('push', 'remove', 'update'), key: fc.integer({ min: 0, max: 20 }), pick: fc.nat() }), { maxLength: 60 }),
        (ops) => {
          const heap = new IndexedHeap<Keyed>(less, slot);
          const live: Keyed[] = [];
          let id = 0;
          for (const { op, key, pick } of ops) {
            if (op === 'push' || live.length === 0) {
              const k = { key, id: id++, index: -1 };
              heap.push(k);
              live.push(k);
            } else if (op === 'remove') {
              const [k] = live.splice(pick % live.length, 1);
              heap.remove(k!);
            } else {
              const k = live[pick % live.length]!;
              k.key = key;
              heap.update(k);
            }
            const sorted = [...live].sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
            expect(heap.peekSecond()).toBe(sorted[1]);
          }
        },
      ),
      { seed: 1313, numRuns: 200 },
    );
  });

  for (const policy of ['weighted-fair', 'round-robin']) {
    it(`property (${policy}): runnerUp() is the flow pick() returns once the picked flow leaves`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.record({ flow: fc.integer({ min: 0, max: 5 }), op: fc.constantFrom('activate', 'charge', 'deactivate'), cost: fc.integer({ min: 1, max: 500 }) }), {
            minLength: 1,
            maxLength: 40,
          }),
          (ops) => {
            const band = new Band(unboundedBandSettings(policy));
            const state = band.fairness;
            const flows = Array.from({ length: 6 }, (_, i) => new Flow(`t${i}`, band, 1 + (i % 3), undefined, i));
            const active = new Set<Flow>();
            for (const { flow, op, cost } of ops) {
              const f = flows[flow]!;
              if (op === 'activate' && !active.has(f)) {
                state.activate(f);
                active.add(f);
              } else if (op === 'deactivate' && active.has(f)) {
                state.deactivate(f);
                active.delete(f);
              } else if (op === 'charge' && active.has(f)) {
                state.charge(f, cost);
              }
            }
            const top = state.pick();
            const runnerUp = state.runnerUp?.();
            if (top === undefined) {
              expect(runnerUp).toBeUndefined();
            } else {
              state.deactivate(top);
              expect(state.pick()).toBe(runnerUp);
            }
          },
        ),
        { seed: 1313, numRuns: 200 },
      );
    });
  }
});
