import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ItemList, ItemSlot } from '../../../src/flowcontrol/item-lists.js';
import { type QueueItem } from '../../../src/flowcontrol/index.js';
import { makeItem } from '../../support/queue-items.js';

const SLOTS = [ItemSlot.flow, ItemSlot.band, ItemSlot.lane] as const;
const SLOT_NAMES: Record<ItemSlot, string> = { [ItemSlot.flow]: 'flow', [ItemSlot.band]: 'band', [ItemSlot.lane]: 'lane' };

/** The link fields of `slot` on `item`, read directly (not through the list under test). */
function links(item: QueueItem, slot: ItemSlot): [QueueItem | undefined, QueueItem | undefined] {
  switch (slot) {
    case ItemSlot.flow:
      return [item.flowPrev, item.flowNext];
    case ItemSlot.band:
      return [item.bandPrev, item.bandNext];
    default:
      return [item.lanePrev, item.laneNext];
  }
}

const seqs = (items: readonly QueueItem[]): number[] => items.map((i) => i.seq);

/** Asserts `list` holds exactly `model`, in order, and that every item of `outside` is not in it. */
function expectMatchesModel(list: ItemList, model: readonly QueueItem[], outside: readonly QueueItem[]): void {
  expect(list.size).toBe(model.length);
  expect(list.head).toBe(model[0]);
  expect(list.tail).toBe(model[model.length - 1]);
  // Walking prev from the tail visits the model back to front, and stops (no cycle).
  const walked: QueueItem[] = [];
  for (let i = list.tail; i !== undefined; i = list.before(i)) {
    walked.push(i);
    if (walked.length > model.length) break;
  }
  expect(seqs(walked)).toEqual(seqs([...model].reverse()));
  model.forEach((item, k) => {
    expect(list.has(item)).toBe(true);
    expect(list.before(item)).toBe(model[k - 1]);
  });
  for (const item of outside) {
    expect(list.has(item)).toBe(false);
    expect(list.before(item)).toBeUndefined();
  }
}

describe('ItemList', () => {
  it('behaves like an array (head, tail, size, prev, has, order) under random push and removal of any member, in every slot', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), reuse: fc.nat() }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...SLOTS), fc.array(op, { maxLength: 200 }), (slot, ops) => {
        const list = new ItemList(slot);
        const model: QueueItem[] = [];
        const removed: QueueItem[] = [];
        let seq = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            // Half the time re-push an item removed earlier: removal must leave it clean for reuse.
            const again = o.reuse % 2 === 0 && removed.length > 0 ? removed.splice(o.reuse % removed.length, 1)[0] : undefined;
            const item = again ?? makeItem({ seq: seq++ });
            list.push(item);
            model.push(item);
          } else if (model.length > 0) {
            const [item] = model.splice(o.pick % model.length, 1);
            list.remove(item!);
            removed.push(item!);
            expect(links(item!, slot)).toEqual([undefined, undefined]);
          }
          expectMatchesModel(list, model, removed);
          // The list touches only its own slot's fields.
          for (const other of SLOTS.filter((s) => s !== slot)) {
            for (const item of [...model, ...removed]) expect(links(item, other)).toEqual([undefined, undefined]);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the flow, band and lane slots independent: one item in three lists at once, changes to one list leave the other two intact (random toggles)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ slot: fc.constantFrom(...SLOTS), item: fc.nat({ max: 7 }) }), { maxLength: 200 }),
        (ops) => {
          const pool = Array.from({ length: 8 }, (_, seq) => makeItem({ seq }));
          const lists = SLOTS.map((s) => new ItemList(s));
          // Start with every item in all three lists, each list in a different order.
          const models: QueueItem[][] = [[...pool], [...pool].reverse(), [...pool.slice(4), ...pool.slice(0, 4)]];
          models.forEach((m, s) => m.forEach((item) => lists[s]!.push(item)));
          for (const o of ops) {
            const s = SLOTS.indexOf(o.slot);
            const list = lists[s]!;
            const model = models[s]!;
            const item = pool[o.item]!;
            const at = model.indexOf(item);
            if (at >= 0) {
              list.remove(item);
              model.splice(at, 1);
            } else {
              list.push(item);
              model.push(item);
            }
            SLOTS.forEach((slot, k) => {
              const m = models[k]!;
              expectMatchesModel(lists[k]!, m, pool.filter((p) => !m.includes(p)));
              if (m.length === 0) expect(lists[k]!.head, SLOT_NAMES[slot]).toBeUndefined();
            });
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('removing an item from its band list leaves its flow and lane lists and links untouched', () => {
    const items = [0, 1, 2].map((seq) => makeItem({ seq }));
    const [flowList, bandList, laneList] = SLOTS.map((s) => new ItemList(s));
    for (const item of items) {
      flowList!.push(item);
      bandList!.push(item);
      laneList!.push(item);
    }
    const middle = items[1]!;
    bandList!.remove(middle);
    expectMatchesModel(bandList!, [items[0]!, items[2]!], [middle]);
    expectMatchesModel(flowList!, items, []);
    expectMatchesModel(laneList!, items, []);
    expect(links(middle, ItemSlot.flow)).toEqual([items[0], items[2]]);
    expect(links(middle, ItemSlot.lane)).toEqual([items[0], items[2]]);
    expect(links(middle, ItemSlot.band)).toEqual([undefined, undefined]);
  });
});
