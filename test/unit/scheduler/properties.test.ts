// Property tests of the whole scheduler; each test name states the property.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/core/index.js';
import { type EndpointSnapshot } from '../../../src/datalayer/index.js';
import {
  DEFAULT_QUEUE_DEPTH_THRESHOLD,
  BlockTable,
  PrefixIndex,
  SaturationFilter,
  Scheduler,
  createDefaultProfile,
} from '../../../src/scheduler/index.js';
import { FakeInflight, context, endpoint, pool } from './support.js';

const arbPool = fc
  .array(
    fc.record({
      waitingQueue: fc.nat(12),
      kvCacheUsage: fc.double({ min: 0, max: 1, noNaN: true }),
      scraped: fc.boolean(),
      stale: fc.boolean(),
      sinceScrape: fc.nat(6),
    }),
    { minLength: 1, maxLength: 20 },
  )
  .map((rows) => {
    const inflight = new FakeInflight();
    const eps: EndpointSnapshot[] = rows.map((r, i) => {
      const id = `10.1.0.${i}:8000`;
      inflight.set(id, { requestsSinceScrape: r.sinceScrape });
      return endpoint(id, r.scraped ? r : null, r.stale);
    });
    return { eps, inflight };
  });

describe('scheduler properties', () => {
  it('the pick is always a candidate (in the pool and in the subset hint)', () => {
    fc.assert(
      fc.property(arbPool, fc.integer(), fc.integer({ min: 1, max: 4 }), fc.option(fc.array(fc.nat(25)), { nil: undefined }), (p, seed, count, hintIdx) => {
        const hint = hintIdx?.map((i) => `10.1.0.${i}:8000`);
        const r = new Scheduler({ random: new SeededRandom(seed) }).schedule({ model: 'm', endpointCount: count, subsetHint: hint }, pool(p.eps), p.inflight);
        const allowed = p.eps.filter((e) => hint === undefined || hint.includes(e.id));
        if (allowed.length === 0) {
          expect(r).toMatchObject({ kind: 'unschedulable', reason: 'empty-subset' });
          return;
        }
        expect(r.kind).toBe('scheduled');
        if (r.kind !== 'scheduled') return;
        // Fallbacks come only from candidates that passed the filters, so there may be fewer than asked.
        expect(r.endpoints.length).toBeGreaterThanOrEqual(1);
        expect(r.endpoints.length).toBeLessThanOrEqual(Math.min(count, allowed.length));
        expect(new Set(r.endpoints).size).toBe(r.endpoints.length);
        for (const e of r.endpoints) expect(allowed).toContain(e);
      }),
      { numRuns: 300 },
    );
  });

  it('a filtered endpoint is never picked unless every candidate was filtered (fail open)', () => {
    fc.assert(
      fc.property(arbPool, fc.integer(), (p, seed) => {
        const filter = new SaturationFilter();
        const ctx = { ...context({ model: 'm' }, p.inflight), pool: pool(p.eps) };
        const withHeadroom = p.eps.filter((e) => filter.hasHeadroom(ctx, e));
        const r = new Scheduler({ random: new SeededRandom(seed) }).schedule({ model: 'm' }, pool(p.eps), p.inflight);
        if (r.kind !== 'scheduled') throw new Error('expected a pick');
        const picked = r.endpoints[0]!;
        if (withHeadroom.length > 0) expect(withHeadroom).toContain(picked);
        else expect(p.eps).toContain(picked);
      }),
      { numRuns: 300 },
    );
  });

  it('equal prefixes go to the same endpoint while it has room', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 8 }), fc.integer(), fc.array(fc.nat(2 ** 31), { minLength: 1, maxLength: 40 }), (n, seed, hashes) => {
        const eps = Array.from({ length: n }, (_, i) => endpoint(`e${i}:1`, { waitingQueue: 0, kvCacheUsage: 0.1 }));
        const inflight = new FakeInflight();
        const s = new Scheduler({ random: new SeededRandom(seed) });
        const prefixHashes = hashes.map((h, i) => i * 2 ** 32 + h);
        let first: string | undefined;
        // Room: below the queue threshold once in-flight work is counted.
        for (let i = 0; i < DEFAULT_QUEUE_DEPTH_THRESHOLD; i++) {
          const r = s.schedule({ model: 'm', prefixHashes }, pool(eps), inflight);
          if (r.kind !== 'scheduled') throw new Error('expected a pick');
          const chosen = r.endpoints[0]!;
          first ??= chosen.id;
          expect(chosen.id).toBe(first);
          s.recordRouting(prefixHashes, chosen);
          inflight.dispatch(chosen.id);
        }
        // Now the endpoint is full: the next one with the same prefix goes elsewhere.
        const r = s.schedule({ model: 'm', prefixHashes }, pool(eps), inflight);
        expect(r.kind === 'scheduled' && r.endpoints[0]!.id).not.toBe(first);
      }),
      { numRuns: 100 },
    );
  });

  it('the picker is deterministic for a fixed seed (same seed, same pool: same picks)', () => {
    fc.assert(
      fc.property(arbPool, fc.integer(), fc.integer({ min: 1, max: 3 }), (p, seed, count) => {
        const run = (): string[] => {
          const s = new Scheduler({ profile: createDefaultProfile(), random: new SeededRandom(seed) });
          const ids: string[] = [];
          for (let i = 0; i < 5; i++) {
            const r = s.schedule({ model: 'm', endpointCount: count }, pool(p.eps), p.inflight);
            if (r.kind === 'scheduled') ids.push(...r.endpoints.map((e) => e.id));
          }
          return ids;
        };
        expect(run()).toEqual(run());
      }),
      { numRuns: 100 },
    );
  });

  it('the block table holds exactly what a naive model holds: newest owner per key, oldest requests forgotten first while over capacity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 60 }), { maxLength: 60 }),
        (capacity, requests) => {
          const table = new BlockTable(capacity);
          const owner = new Map<number, number>();
          let seq = 0;
          let watermark = 1;
          const live = (): number => [...owner.values()].filter((o) => o >= watermark).length;
          for (const keys of requests) {
            table.add(keys);
            const count = Math.min(keys.length, capacity);
            if (count === 0) continue;
            seq++;
            for (const k of keys.slice(0, count)) {
              owner.set(k, seq);
              while (live() > capacity && watermark < seq) watermark++;
            }
            for (let k = 0; k <= 120; k++) expect(table.has(k)).toBe((owner.get(k) ?? 0) >= watermark);
            expect(table.size).toBe(live());
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the block table holds what a Map model holds when keys skip blocks: each key weighs the blocks since the one before', () => {
    // Requests as the hasher makes them: chained keys (equal keys, equal prefixes) of the blocks a schedule names:
    // each of the first `dense`, then every `every`-th, then the last.
    const keysOf = (digits: number[], dense: number, every: number): number[] => {
      const out: number[] = [];
      let h = 7;
      digits.forEach((x, i) => {
        h = (h * 31 + x + 1) % 1_000_003;
        if (i < dense || (i + 1) % every === 0 || i === digits.length - 1) out.push(i * 2 ** 32 + h);
      });
      return out;
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(4), fc.integer({ min: 1, max: 5 }), fc.array(fc.array(fc.nat(2), { maxLength: 30 }), { maxLength: 250 }), (capacity, dense, every, prompts) => {
        const requests = prompts.map((digits) => keysOf(digits, dense, every));
        const table = new BlockTable(capacity);
        const owner = new Map<number, number>();
        const weight = new Map<number, number>();
        let seq = 0;
        let watermark = 1;
        const live = (): number => [...owner].reduce((sum, [k, o]) => (o >= watermark ? sum + (weight.get(k) ?? 0) : sum), 0);
        for (const keys of requests) {
          table.add(keys);
          if (keys.length === 0) continue;
          seq++;
          let previous = -1;
          let blocks = 0;
          for (const k of keys) {
            const index = Math.floor(k / 2 ** 32);
            const w = index - previous;
            previous = index;
            if ((blocks += w) > capacity) break;
            owner.set(k, seq);
            weight.set(k, w);
            while (live() > capacity && watermark < seq) watermark++;
          }
          for (const k of new Set([...owner.keys(), ...keys])) expect(table.has(k)).toBe((owner.get(k) ?? 0) >= watermark);
          expect(table.size).toBe(live());
          expect(table.size).toBeLessThanOrEqual(capacity);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('rebasing the block table\'s sequence numbers changes nothing it answers', () => {
    const answers = (t: BlockTable): string => `${t.size}:${Array.from({ length: 41 }, (_, k) => (t.has(k) ? 1 : 0)).join('')}`;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.array(fc.array(fc.nat(40), { maxLength: 8 }), { minLength: 300, maxLength: 400 }), (capacity, requests) => {
        const rebased = new BlockTable(capacity, 70); // rebases once its sequence numbers pass 70 (and the ring's length)
        const plain = new BlockTable(capacity);
        let last = 0;
        let lowered = false;
        for (const keys of requests) {
          const seq = rebased.add(keys);
          plain.add(keys);
          if (seq !== 0) {
            lowered ||= seq < last;
            last = seq;
          }
          if (answers(rebased) !== answers(plain)) expect(answers(rebased)).toBe(answers(plain));
        }
        expect(lowered).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('the prefix index never exceeds its capacity and always holds the newest request whole (up to capacity)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.array(fc.nat(200), { maxLength: 80 }), { maxLength: 30 }),
        (capacity, batches) => {
          const index = new PrefixIndex({ defaultCapacity: capacity });
          for (const batch of batches) {
            index.record(batch, 'a');
            expect(index.size('a')).toBeLessThanOrEqual(capacity);
            expect(batch.slice(0, capacity).every((k) => index.holds(k, 'a'))).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the prefix match found by galloping search equals a linear walk over held blocks, which are prefix-closed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.array(fc.array(fc.nat(30), { maxLength: 40 }), { maxLength: 20 }), fc.array(fc.nat(30), { maxLength: 40 }), (capacity, batches, query) => {
        // Distinct chained keys, as the hasher produces: key i encodes the whole prefix up to i.
        const chain = (xs: number[]): number[] => xs.map((_, i) => xs.slice(0, i + 1).reduce((h, x) => (h * 31 + x + 1) % 1_000_003, 7) + i * 2 ** 32);
        const index = new PrefixIndex({ defaultCapacity: capacity });
        for (const b of batches) index.record(chain(b), 'a');
        for (const keys of [...batches.map(chain), chain(query)]) {
          const held = keys.map((k) => index.holds(k, 'a'));
          let linear = 0;
          while (linear < keys.length && held[linear] === true) linear++;
          expect(held.slice(linear).some((h) => h)).toBe(false); // nothing held past the first gap
          expect(index.matchLength(keys, 'a')).toBe(linear);
        }
      }),
      { numRuns: 300 },
    );
  });
});
