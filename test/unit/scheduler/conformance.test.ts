// Conformance suites: every registered plug-in of each family obeys its family's contract.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/core/index.js';
import { type EndpointSnapshot } from '../../../src/datalayer/index.js';
import { PrefixIndex, createBuiltinRegistries } from '../../../src/scheduler/index.js';
import { FakeInflight, context, endpoint } from './support.js';

const registries = createBuiltinRegistries();

const arbEndpoints = fc
  .array(
    fc.record({
      waitingQueue: fc.nat(50),
      runningRequests: fc.nat(50),
      kvCacheUsage: fc.double({ min: 0, max: 1, noNaN: true }),
      maxLora: fc.nat(3),
      loraRunning: fc.subarray(['a', 'b', 'c']),
      scraped: fc.boolean(),
      stale: fc.boolean(),
      sinceScrape: fc.nat(10),
      tokens: fc.nat(100_000),
    }),
    { minLength: 1, maxLength: 12 },
  )
  .map((rows) => {
    const inflight = new FakeInflight();
    const index = new PrefixIndex();
    const eps: EndpointSnapshot[] = rows.map((r, i) => {
      const id = `10.0.0.${i}:8000`;
      inflight.set(id, { requestsSinceScrape: r.sinceScrape, requests: r.sinceScrape, tokens: r.tokens });
      if (i % 2 === 0) index.record([1, 2, 3].slice(0, (i % 3) + 1), id);
      return endpoint(id, r.scraped ? r : null, r.stale);
    });
    return { eps, ctx: context({ model: 'base', targetModel: 'a', prefixHashes: [1, 2, 3, 4] }, inflight, index) };
  });

describe.each(registries.filters.names())('filter conformance: %s', (name) => {
  const filter = registries.filters.get(name).create(undefined, 'test');
  it('returns a subset of its input, in input order, and never mutates it', () => {
    fc.assert(
      fc.property(arbEndpoints, ({ eps, ctx }) => {
        const copy = [...eps];
        const out = filter.filter(ctx, eps);
        expect(eps).toEqual(copy);
        let j = 0;
        for (const e of out) {
          while (j < eps.length && eps[j] !== e) j++;
          expect(j).toBeLessThan(eps.length);
          j++;
        }
      }),
      { numRuns: 100 },
    );
  });
  it('declares its type as registered', () => expect(filter.type).toBe(name));
});

describe.each(registries.scorers.names())('scorer conformance: %s', (name) => {
  const scorer = registries.scorers.get(name).create(undefined, 'test');
  it('writes one finite score in [0, 1] per candidate', () => {
    fc.assert(
      fc.property(arbEndpoints, ({ eps, ctx }) => {
        const out = new Float64Array(eps.length).fill(-5);
        scorer.score(ctx, eps, out);
        for (const s of out) {
          expect(Number.isFinite(s)).toBe(true);
          expect(s).toBeGreaterThanOrEqual(0);
          expect(s).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 100 },
    );
  });
  it('is pure: the same input scores the same twice', () => {
    fc.assert(
      fc.property(arbEndpoints, ({ eps, ctx }) => {
        const a = new Float64Array(eps.length);
        const b = new Float64Array(eps.length);
        scorer.score(ctx, eps, a);
        scorer.score(ctx, eps, b);
        expect([...a]).toEqual([...b]);
      }),
      { numRuns: 50 },
    );
  });
  it('declares its type as registered', () => expect(scorer.type).toBe(name));
});

describe.each(registries.pickers.names())('picker conformance: %s', (name) => {
  const picker = registries.pickers.get(name).create(undefined, 'test');
  const arbScores = fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 1, maxLength: 30 });
  it('returns min(count, n) distinct valid indices', () => {
    fc.assert(
      fc.property(arbScores, fc.integer({ min: 1, max: 40 }), fc.integer(), (scores, count, seed) => {
        const picked = picker.pick(Float64Array.from(scores), count, new SeededRandom(seed));
        expect(picked.length).toBe(Math.min(count, scores.length));
        expect(new Set(picked).size).toBe(picked.length);
        for (const i of picked) expect(i >= 0 && i < scores.length && Number.isInteger(i)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
  it('is deterministic for a fixed seed', () => {
    fc.assert(
      fc.property(arbScores, fc.integer({ min: 1, max: 5 }), fc.integer(), (scores, count, seed) => {
        const s = Float64Array.from(scores);
        expect(picker.pick(s, count, new SeededRandom(seed))).toEqual(picker.pick(s, count, new SeededRandom(seed)));
      }),
      { numRuns: 100 },
    );
  });
  it('declares its type as registered', () => expect(picker.type).toBe(name));
});

describe('max-score picker specifics', () => {
  const picker = registries.pickers.get('max-score-picker').create(undefined, 'test');
  it('always picks a maximum, and breaks ties roughly uniformly', () => {
    const random = new SeededRandom(9);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[picker.pick(Float64Array.from([1, 3, 3, 3]), 1, random)[0]!]! += 1;
    expect(counts[0]).toBe(0);
    for (const c of counts.slice(1)) expect(c).toBeGreaterThan(1100);
  });
});

describe('weighted-random picker specifics', () => {
  const picker = registries.pickers.get('weighted-random-picker').create(undefined, 'test');
  it('picks in proportion to score and never a zero score while a positive one is left', () => {
    const random = new SeededRandom(10);
    const counts = [0, 0, 0];
    for (let i = 0; i < 6000; i++) counts[picker.pick(Float64Array.from([0, 1, 2]), 1, random)[0]!]! += 1;
    expect(counts[0]).toBe(0);
    expect(counts[2]! / counts[1]!).toBeGreaterThan(1.7);
    expect(counts[2]! / counts[1]!).toBeLessThan(2.3);
  });
});
