// BlockPool: allocation, reference counts, prefix-cache hits and LRU eviction of unreferenced cached blocks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockPool } from '../../../src/simulator/index.js';

describe('BlockPool', () => {
  it('keeps released hashed blocks cached until an allocation needs them, oldest first', () => {
    const pool = new BlockPool(4);
    const a = [pool.allocate()!, pool.allocate()!];
    pool.register(a[0]!, 100);
    pool.register(a[1]!, 101);
    pool.release(a);
    expect(pool.accounting()).toMatchObject({ free: 2, cached: 2, used: 0 });
    expect(pool.lookup([100, 101, 102], 10)).toEqual(a);
    // Two free blocks go first, then eviction takes the tail block (released first), keeping the head cached.
    pool.allocate();
    pool.allocate();
    pool.allocate();
    expect(pool.lookup([100, 101], 10)).toEqual([a[0]]);
    expect(pool.available).toBe(1);
    pool.allocate();
    expect(pool.allocate()).toBeUndefined();
    expect(pool.lookup([100], 10)).toEqual([]);
  });

  it('shares a cached block between requests through reference counts', () => {
    const pool = new BlockPool(2);
    const b = pool.allocate()!;
    pool.register(b, 7);
    pool.acquire(pool.lookup([7], 1));
    expect(pool.accounting()).toMatchObject({ used: 1, references: 2 });
    pool.release([b]);
    expect(pool.accounting()).toMatchObject({ used: 1, references: 1 });
    pool.release([b]);
    expect(pool.accounting()).toMatchObject({ used: 0, cached: 1, references: 0 });
    expect(() => pool.release([b])).toThrow(/referenced block/);
  });

  it('counts evictable hits when checking room: a hit on a cached block uses that block', () => {
    const pool = new BlockPool(2);
    const b = pool.allocate()!;
    pool.register(b, 9);
    pool.release([b]);
    expect(pool.canAllocate(2)).toBe(true);
    expect(pool.canAllocate(2, [b])).toBe(false);
    expect(pool.canAllocate(1, [b])).toBe(true);
  });

  it('conserves blocks (free + cached + used == total) under any sequence of operations', () => {
    type Op = { kind: 'alloc' } | { kind: 'release'; pick: number } | { kind: 'register'; pick: number; hash: number } | { kind: 'hit'; hash: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.constant({ kind: 'alloc' as const }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('register' as const), pick: fc.nat(), hash: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant('hit' as const), hash: fc.integer({ min: 0, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(opArb, { maxLength: 80 }), (n, ops) => {
        const pool = new BlockPool(n);
        const held: number[] = [];
        for (const op of ops) {
          if (op.kind === 'alloc') {
            const b = pool.allocate();
            if (b !== undefined) held.push(b);
            else expect(pool.available).toBe(0);
          } else if (op.kind === 'release' && held.length > 0) {
            const [b] = held.splice(op.pick % held.length, 1);
            pool.release([b!]);
          } else if (op.kind === 'register' && held.length > 0) {
            pool.register(held[op.pick % held.length]!, op.hash);
          } else if (op.kind === 'hit') {
            const hits = pool.lookup([op.hash], 1);
            pool.acquire(hits);
            held.push(...hits);
          }
          const a = pool.accounting();
          expect(a.free + a.cached + a.used).toBe(n);
          expect(a.references).toBe(held.length);
          expect(new Set(held).size).toBe(a.used);
        }
      }),
      { numRuns: 300 },
    );
  });
});
