import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowLengths } from '../../../src/flowcontrol/flow-lengths.js';
import { makeFlow, makeItem } from '../../support/queue-items.js';

describe('FlowLengths', () => {
  it('always reports a flow of maximal queue length as the longest (property over random grow/shrink)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ flow: fc.integer({ min: 0, max: 5 }), grow: fc.boolean() }), { maxLength: 300 }), (ops) => {
        const lengths = new FlowLengths();
        const flows = Array.from({ length: 6 }, (_, i) => makeFlow(`f${i}`, i));
        let seq = 0;
        for (const op of ops) {
          const flow = flows[op.flow]!;
          if (op.grow) {
            flow.queue.push(makeItem({ seq: seq++, flow }));
            lengths.grew(flow);
          } else if (flow.queue.size > 0) {
            flow.queue.pop();
            lengths.shrank(flow);
          }
          const max = Math.max(...flows.map((f) => f.queue.size));
          const longest = lengths.longest();
          if (max === 0) expect(longest).toBeUndefined();
          else expect(longest?.queue.size).toBe(max);
        }
      }),
    );
  });
});
