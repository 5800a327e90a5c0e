import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { ExpiryTracker, MAX_EXPIRY_LANES } from '../../../src/flowcontrol/expiry-tracker.js';
import { type QueueItem } from '../../../src/flowcontrol/index.js';
import { makeItem } from '../../support/queue-items.js';

describe('ExpiryTracker', () => {
  it('expires every tracked item exactly at its deadline, in deadline order, whatever the lanes and arrival order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            arrival: fc.integer({ min: 0, max: 1_000 }),
            ttl: fc.integer({ min: 1, max: 60 }),
            deadline: fc.option(fc.integer({ min: 1, max: 2_000 }), { nil: undefined }),
            removed: fc.boolean(),
          }),
          { maxLength: 200 },
        ),
        (specs) => {
          const clock = new ManualClock();
          const fired: { item: QueueItem; at: number }[] = [];
          const tracker = new ExpiryTracker(clock, (item) => fired.push({ item, at: clock.now() }));
          const items = specs.map((s, seq) => {
            const expiresAt = Math.min(s.arrival + s.ttl * 10, s.deadline ?? Infinity);
            const item = makeItem({ seq, expiresAt });
            tracker.add(item, s.ttl * 10);
            return { item, removed: s.removed };
          });
          for (const x of items) if (x.removed) tracker.remove(x.item);
          for (let t = 0; t <= 2_100; t += 7) clock.advanceTo(t);
          const expected = items.filter((x) => !x.removed).map((x) => x.item);
          expect(new Set(fired.map((f) => f.item))).toEqual(new Set(expected));
          expect(fired.length).toBe(expected.length);
          for (const f of fired) {
            expect(f.at).toBeGreaterThanOrEqual(f.item.expiresAt);
            expect(f.at).toBeLessThan(f.item.expiresAt + 7);
          }
          for (let k = 1; k < fired.length; k++) {
            expect(fired[k]!.item.expiresAt).toBeGreaterThanOrEqual(fired[k - 1]!.item.expiresAt - 7);
          }
          expect(clock.pendingTimers()).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps working past the lane limit, with more distinct TTLs than lanes', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const tracker = new ExpiryTracker(clock, (item) => fired.push(item.seq));
    const n = MAX_EXPIRY_LANES * 3;
    for (let i = 0; i < n; i++) tracker.add(makeItem({ seq: i, expiresAt: 1_000 - i }), 1_000 - i);
    clock.advance(1_000);
    expect(fired).toEqual(Array.from({ length: n }, (_, i) => n - 1 - i));
  });

  it('close drops everything and leaves no timer', () => {
    const clock = new ManualClock();
    const tracker = new ExpiryTracker(clock, () => {
      throw new Error('must not fire after close');
    });
    tracker.add(makeItem({ seq: 0, expiresAt: 10 }), 10);
    tracker.add(makeItem({ seq: 1, expiresAt: 5 }), 10);
    tracker.close();
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(100);
  });
});
