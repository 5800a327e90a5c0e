// The scrape scheduler's ring of started scrapes (InFlightQueue) against an array model: first in, first out
// through any interleaving of pushes and shifts, across wrap-around and across growth while the ring's head is
// not at index 0 (where a copy that ignored the head would reorder entries).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InFlightQueue } from '../../../src/datalayer/scrape-scheduler.js';
import type { ScrapeTask } from '../../../src/datalayer/index.js';

function task(seq: number): ScrapeTask {
  return { scrape: { run: () => undefined, timedOut: () => undefined }, due: 0, seq, inFlight: true, removed: false };
}

describe('InFlightQueue', () => {
  it('property: hands entries back first in, first out with their seq and deadline, through wrap-around and growth', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(40), fc.nat(40)), { minLength: 1, maxLength: 200 }), (steps) => {
        const queue = new InFlightQueue();
        const model: { task: ScrapeTask; seq: number; deadline: number }[] = [];
        let next = 0;
        for (const [pushes, shifts] of steps) {
          for (let i = 0; i < pushes; i++) {
            const entry = { task: task(next), seq: next, deadline: next * 2 + 0.5 };
            next++;
            queue.push(entry.task, entry.seq, entry.deadline);
            model.push(entry);
          }
          for (let i = 0; i < shifts && model.length > 0; i++) {
            const front = model.shift();
            expect([queue.frontTask, queue.frontSeq, queue.frontDeadline]).toEqual([front?.task, front?.seq, front?.deadline]);
            queue.shift();
          }
          expect(queue.size).toBe(model.length);
        }
      }),
    );
  });

  it('keeps order when it grows with its head past index 0', () => {
    const queue = new InFlightQueue();
    // Fill the first ring (64), free 10 at the front, refill so the ring wraps, then push past its size.
    for (let i = 0; i < 64; i++) queue.push(task(i), i, i);
    for (let i = 0; i < 10; i++) queue.shift();
    for (let i = 64; i < 200; i++) queue.push(task(i), i, i);
    const seen: number[] = [];
    while (queue.size > 0) {
      seen.push(queue.frontSeq);
      queue.shift();
    }
    expect(seen).toEqual(Array.from({ length: 190 }, (_, i) => i + 10));
  });
});
