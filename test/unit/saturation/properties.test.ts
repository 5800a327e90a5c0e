// Property tests of the detectors: each test name states the property.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type InflightTicket } from '../../../src/datalayer/index.js';
import {
  type Aggregation,
  ConcurrencyDetector,
  HybridDetector,
  type SaturationDetector,
  UtilizationDetector,
} from '../../../src/saturation/index.js';
import { type EndpointState, type Fixture, poolOf } from './pool-fixture.js';

const RUNS = 150;
const aggregation = fc.constantFrom<Aggregation>('headroom', 'mean', 'min');
const freshState: fc.Arbitrary<EndpointState> = fc.record({
  waiting: fc.integer({ min: 0, max: 20 }),
  kv: fc.double({ min: 0, max: 1, noNaN: true }),
  ageMs: fc.integer({ min: 0, max: 150 }),
});
const anyState: fc.Arbitrary<EndpointState> = fc.record(
  {
    waiting: fc.integer({ min: 0, max: 20 }),
    kv: fc.double({ min: 0, max: 1, noNaN: true }),
    ageMs: fc.integer({ min: 0, max: 400 }),
    failed: fc.boolean(),
  },
  { requiredKeys: ['waiting', 'kv'] },
);

type Kind = 'utilization' | 'hybrid' | 'concurrency';
function detector(kind: Kind, f: Fixture, agg: Aggregation): SaturationDetector {
  const deps = { pool: f.store, inflight: f.inflight, clock: f.clock };
  const opts = { aggregation: agg, stalenessMs: 200 };
  if (kind === 'utilization') return new UtilizationDetector(deps, opts);
  if (kind === 'hybrid') return new HybridDetector(deps, opts);
  return new ConcurrencyDetector(deps, { aggregation: agg, maxRequests: 8 });
}

describe('saturation properties', () => {
  it('saturation is monotone in scraped load: more waiting or KV on any endpoint never lowers pool or endpoint saturation', () => {
    fc.assert(
      fc.property(
        fc.array(freshState, { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.integer({ min: 0, max: 10 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        aggregation,
        fc.constantFrom<Kind>('utilization', 'hybrid'),
        (states, pick, dWaiting, dKv, agg, kind) => {
          const i = pick % states.length;
          const s = states[i]!;
          const loaded = states.map((x, j) => (j === i ? { ...x, waiting: s.waiting + dWaiting, kv: Math.min(1, s.kv + dKv) } : x));
          const base = poolOf(states);
          const more = poolOf(loaded);
          const a = detector(kind, base, agg);
          const b = detector(kind, more, agg);
          expect(b.saturation()).toBeGreaterThanOrEqual(a.saturation());
          expect(b.endpointSaturation(more.ids[i]!)).toBeGreaterThanOrEqual(a.endpointSaturation(base.ids[i]!));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('saturation is monotone in dispatched load: every begin() keeps or raises pool and endpoint saturation', () => {
    fc.assert(
      fc.property(
        fc.array(freshState, { minLength: 1, maxLength: 6 }),
        fc.array(fc.record({ ep: fc.nat(), tokens: fc.integer({ min: 0, max: 5000 }) }), { maxLength: 30 }),
        aggregation,
        fc.constantFrom<Kind>('utilization', 'hybrid', 'concurrency'),
        (states, dispatches, agg, kind) => {
          const f = poolOf(states);
          const d = detector(kind, f, agg);
          let pool = d.saturation();
          for (const { ep, tokens } of dispatches) {
            const id = f.ids[ep % f.ids.length]!;
            const before = d.endpointSaturation(id);
            f.inflight.begin(id, tokens);
            expect(d.endpointSaturation(id)).toBeGreaterThanOrEqual(before);
            expect(d.saturation()).toBeGreaterThanOrEqual(pool);
            pool = d.saturation();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('stale endpoints never look free: missing, failed or too-old metrics score >= 1 at any later time, and an all-stale pool is saturated', () => {
    fc.assert(
      fc.property(
        fc.array(anyState, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 150 }), { maxLength: 4 }),
        aggregation,
        fc.constantFrom<Kind>('utilization', 'hybrid'),
        (states, steps, agg, kind) => {
          const f = poolOf(states);
          const d = detector(kind, f, agg);
          for (const step of [0, ...steps]) {
            f.clock.advance(step);
            const now = f.clock.now();
            let allStale = true;
            for (const e of f.store.current().endpoints) {
              const stale = e.stale || e.scrapedAt === undefined || now - e.scrapedAt > 200;
              if (stale) expect(d.endpointSaturation(e.id)).toBeGreaterThanOrEqual(1);
              allStale &&= stale;
            }
            if (allStale) expect(d.saturation()).toBeGreaterThanOrEqual(1);
            expect(d.details().staleEndpoints).toBe(
              f.store.current().endpoints.filter((e) => e.stale || e.scrapedAt === undefined || now - e.scrapedAt > 200).length,
            );
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('the hybrid detector never admits more concurrent work per endpoint than its headroom allows between two scrapes', () => {
    type Event = { kind: 'dispatch'; pick: number; tokens: number } | { kind: 'end'; pick: number } | { kind: 'scrape'; ep: number; waiting: number; kv: number };
    const event: fc.Arbitrary<Event> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('dispatch' as const), pick: fc.nat(), tokens: fc.integer({ min: 1, max: 2000 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat() }) },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('scrape' as const), ep: fc.nat(), waiting: fc.integer({ min: 0, max: 12 }), kv: fc.double({ min: 0, max: 1, noNaN: true }) }),
      },
    );
    const endpoint = fc.record({
      waiting: fc.integer({ min: 0, max: 12 }),
      kv: fc.double({ min: 0, max: 1, noNaN: true }),
      ageMs: fc.constant(0),
      blockSize: fc.constantFrom(16, undefined),
      numBlocks: fc.integer({ min: 50, max: 2000 }),
    });
    fc.assert(
      fc.property(
        fc.array(endpoint, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 10 }),
        fc.double({ min: 0.1, max: 1, noNaN: true }),
        fc.array(event, { maxLength: 200 }),
        (states, queueThreshold, kvThreshold, events) => {
          const f = poolOf(states);
          const d = new HybridDetector(
            { pool: f.store, inflight: f.inflight, clock: f.clock },
            { queueThreshold, kvThreshold, stalenessMs: 1e9 },
          );
          const scraped = new Map(f.ids.map((id, i) => [id, { waiting: states[i]!.waiting, kv: states[i]!.kv }]));
          const capacity = new Map(f.ids.map((id, i) => [id, states[i]!.blockSize === undefined ? undefined : 16 * states[i]!.numBlocks]));
          const live: InflightTicket[] = [];
          const MAX_TOKENS = 2000;
          for (const e of events) {
            if (e.kind === 'dispatch') {
              // Flow control gates on the pool figure; the scheduler then filters endpoints with headroom.
              const open = f.ids.filter((id) => d.endpointSaturation(id) < 1);
              if (d.saturation() >= 1) {
                expect(open).toEqual([]);
                continue;
              }
              expect(open.length).toBeGreaterThan(0);
              live.push(f.inflight.begin(open[e.pick % open.length]!, e.tokens));
            } else if (e.kind === 'end' && live.length > 0) {
              f.inflight.end(live.splice(e.pick % live.length, 1)[0]!);
            } else if (e.kind === 'scrape') {
              const id = f.ids[e.ep % f.ids.length]!;
              f.clock.advance(1);
              f.scrape(id, e.waiting, e.kv);
              scraped.set(id, { waiting: e.waiting, kv: e.kv });
            }
            for (const id of f.ids) {
              const { waiting, kv } = scraped.get(id)!;
              const load = f.inflight.load(id);
              // Requests: each unseen one counts as a waiting request, so at most (threshold - waiting) pass.
              expect(load.requestsSinceScrape).toBeLessThanOrEqual(Math.max(0, queueThreshold - waiting));
              const cap = capacity.get(id);
              if (cap !== undefined && load.tokensSinceScrape > 0) {
                // Tokens: all but the last admitted request fit into the KV headroom.
                expect(load.tokensSinceScrape).toBeLessThan(Math.max(0, (kvThreshold - kv) * cap) + MAX_TOKENS + 1e-6);
                expect(kv).toBeLessThan(kvThreshold);
              }
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
