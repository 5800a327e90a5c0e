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

  it('every end() keeps or lowers pool and endpoint saturation (finished work, seen by a scrape or not, never adds load)', () => {
    fc.assert(
      fc.property(
        fc.array(freshState, { minLength: 1, maxLength: 4 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('dispatch' as const), ep: fc.nat(), tokens: fc.integer({ min: 0, max: 5000 }) }),
            fc.record({ kind: fc.constant('end' as const), pick: fc.nat() }),
            fc.record({ kind: fc.constant('scrape' as const), ep: fc.nat(), waiting: fc.integer({ min: 0, max: 20 }) }),
          ),
          { minLength: 10, maxLength: 60, size: 'max' },
        ),
        aggregation,
        fc.constantFrom<Kind>('hybrid', 'concurrency'),
        (states, events, agg, kind) => {
          const f = poolOf(states);
          const d = detector(kind, f, agg);
          const live: InflightTicket[] = [];
          for (const e of events) {
            if (e.kind === 'dispatch') live.push(f.inflight.begin(f.ids[e.ep % f.ids.length]!, e.tokens));
            else if (e.kind === 'scrape') {
              f.clock.advance(1);
              f.scrape(f.ids[e.ep % f.ids.length]!, e.waiting, 0.3);
            } else if (live.length > 0) {
              const t = live.splice(e.pick % live.length, 1)[0]!;
              const before = d.endpointSaturation(t.endpointId);
              const pool = d.saturation();
              f.inflight.end(t);
              expect(d.endpointSaturation(t.endpointId)).toBeLessThanOrEqual(before);
              expect(d.saturation()).toBeLessThanOrEqual(pool);
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('the hybrid detector never admits more concurrent work per endpoint than its headroom allows between two scrapes, headroom counting the slots and KV that work the scrape saw has freed by finishing', () => {
    // Restated for finished-work credit c: with c = 0 this is exactly the earlier statement (unseen requests
    // <= queueThreshold - waiting, unseen tokens within the KV headroom). With c > 0 each request the scrape
    // counted that has since finished frees c waiting slots and c x its tokens of KV, so the scraped figures
    // are taken net of that credit (floored at 0): waiting - c x ended, kv - c x endedTokens / capacity.
    // The ledger (seen, ended since the scrape, unseen) is kept here independently of the tracker.
    // Scraped KV is drawn as a share of the threshold (up to 1.25x) so that endpoints sit near their KV limit,
    // where crediting finished tokens decides admission, instead of mostly far above or below it.
    type Event = { kind: 'dispatch'; pick: number; tokens: number } | { kind: 'end'; pick: number } | { kind: 'scrape'; ep: number; waiting: number; kvShare: number };
    const kvShare = fc.double({ min: 0, max: 1.25, noNaN: true });
    const event: fc.Arbitrary<Event> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('dispatch' as const), pick: fc.nat(), tokens: fc.integer({ min: 1, max: 2000 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat() }) },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('scrape' as const), ep: fc.nat(), waiting: fc.integer({ min: 0, max: 12 }), kvShare }),
      },
    );
    const endpoint = fc.record({
      waiting: fc.integer({ min: 0, max: 12 }),
      kvShare,
      blockSize: fc.constantFrom(16, undefined),
      numBlocks: fc.integer({ min: 50, max: 2000 }),
    });
    fc.assert(
      fc.property(
        fc.array(endpoint, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 10 }),
        fc.double({ min: 0.1, max: 1, noNaN: true }),
        fc.constantFrom(0, 0.5, 1, 2),
        fc.array(event, { minLength: 20, maxLength: 200, size: 'max' }), // long runs: several scrape intervals each
        (raw, queueThreshold, kvThreshold, credit, events) => {
          const kvOf = (share: number): number => Math.min(1, share * kvThreshold);
          const states = raw.map((s) => ({ ...s, kv: kvOf(s.kvShare), ageMs: 0 }));
          const f = poolOf(states);
          const d = new HybridDetector(
            { pool: f.store, inflight: f.inflight, clock: f.clock },
            { queueThreshold, kvThreshold, stalenessMs: 1e9, finishedRequestCredit: credit },
          );
          const scraped = new Map(f.ids.map((id, i) => [id, { waiting: states[i]!.waiting, kv: states[i]!.kv }]));
          const capacity = new Map(f.ids.map((id, i) => [id, states[i]!.blockSize === undefined ? undefined : 16 * states[i]!.numBlocks]));
          const ended = new Map(f.ids.map((id) => [id, { requests: 0, tokens: 0 }]));
          const live: { ticket: InflightTicket; seen: boolean }[] = [];
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
              live.push({ ticket: f.inflight.begin(open[e.pick % open.length]!, e.tokens), seen: false });
            } else if (e.kind === 'end' && live.length > 0) {
              const { ticket, seen } = live.splice(e.pick % live.length, 1)[0]!;
              f.inflight.end(ticket);
              if (seen) {
                const x = ended.get(ticket.endpointId)!;
                x.requests++;
                x.tokens += ticket.tokens;
              }
            } else if (e.kind === 'scrape') {
              const id = f.ids[e.ep % f.ids.length]!;
              f.clock.advance(1);
              f.scrape(id, e.waiting, kvOf(e.kvShare));
              scraped.set(id, { waiting: e.waiting, kv: kvOf(e.kvShare) });
              ended.set(id, { requests: 0, tokens: 0 });
              for (const m of live) if (m.ticket.endpointId === id) m.seen = true; // all began before this instant
            }
            for (const id of f.ids) {
              const { waiting, kv } = scraped.get(id)!;
              const gone = ended.get(id)!;
              const unseen = live.filter((m) => !m.seen && m.ticket.endpointId === id);
              const unseenTokens = unseen.reduce((sum, m) => sum + m.ticket.tokens, 0);
              // Requests: each was admitted while (waiting net of credit) + unseen ahead of it < threshold, and
              // the net waiting only falls between scrapes, so every unseen one fits the current headroom.
              const netWaiting = Math.max(0, waiting - credit * gone.requests);
              if (unseen.length > 0) expect(unseen.length - 1).toBeLessThan(queueThreshold - netWaiting);
              const cap = capacity.get(id);
              if (cap !== undefined && unseenTokens > 0) {
                // Tokens: all but the last admitted request fit into the KV headroom net of freed tokens.
                const netKv = Math.max(0, kv - (credit * gone.tokens) / cap);
                expect(unseenTokens).toBeLessThan(Math.max(0, (kvThreshold - netKv) * cap) + MAX_TOKENS + 1e-6);
                expect(netKv).toBeLessThan(kvThreshold);
              }
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
