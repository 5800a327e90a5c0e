// The pick's pool-scale shortcuts change nothing about what is picked: the headroom filter reading the detector
// once for the whole candidate list (`endpointSaturations`) picks exactly what one read per candidate picks, and
// the scoring pass in reused buffers gives each picked endpoint the total a fresh pass over the filtered
// candidates gives it, the primary being a best one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock, SeededRandom } from '../../../src/core/index.js';
import { type EndpointSaturationView, type EndpointSnapshot, type InflightTicket, InflightTracker, PoolStore } from '../../../src/datalayer/index.js';
import { HybridDetector, SwappableSaturationDetector } from '../../../src/saturation/index.js';
import { PrefixIndex, type ScheduleRequest, Scheduler, type SchedulingContext } from '../../../src/scheduler/index.js';

const PROMPTS = 6;
/** Block keys as the hasher makes them (block index x 2^32 + hash): prompt p's first `blocks` keys. */
function keys(p: number, blocks: number): number[] {
  return Array.from({ length: blocks }, (_, i) => i * 2 ** 32 + ((p * 7_919 + i * 31) % 2_147_483_647));
}

const arbEndpoint = fc.record({
  scraped: fc.boolean(),
  waiting: fc.nat(8),
  running: fc.nat(20),
  kv: fc.double({ min: 0, max: 1, noNaN: true }),
  adapters: fc.constantFrom<readonly string[]>([], [], ['lora-a'], ['lora-a', 'lora-b']),
  maxLora: fc.constantFrom(0, 2),
  load: fc.nat(4),
  unstarted: fc.nat(3_000),
});

type Step =
  | { readonly op: 'pick'; readonly prompt: number; readonly count: number; readonly pace: boolean; readonly adapter: boolean; readonly hint: readonly number[] | undefined; readonly seed: number }
  | { readonly op: 'scrape'; readonly at: number; readonly waiting: number; readonly kv: number }
  | { readonly op: 'end'; readonly at: number }
  | { readonly op: 'remove'; readonly at: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant('pick' as const),
    prompt: fc.nat(PROMPTS - 1),
    count: fc.integer({ min: 1, max: 4 }),
    pace: fc.boolean(),
    adapter: fc.boolean(),
    hint: fc.option(fc.array(fc.nat(40), { maxLength: 12 }), { nil: undefined, freq: 4 }),
    seed: fc.integer(),
  }),
  fc.record({ op: fc.constant('scrape' as const), at: fc.nat(), waiting: fc.nat(8), kv: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ op: fc.constant('end' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('remove' as const), at: fc.nat() }),
);

/** Weighted totals over `candidates` by the profile's scorers, each into a fresh array, clamped as the profile does. */
function freshTotals(scheduler: Scheduler, ctx: SchedulingContext, candidates: readonly EndpointSnapshot[]): number[] {
  const totals = candidates.map(() => 0);
  for (const { scorer, weight } of scheduler.profile.scorers) {
    if (weight === 0) continue;
    const raw = new Float64Array(candidates.length);
    scorer.score(ctx, candidates, raw);
    for (let i = 0; i < candidates.length; i++) {
      const s = raw[i] as number;
      totals[i] = (totals[i] as number) + weight * (s > 1 ? 1 : s > 0 ? s : 0);
    }
  }
  return totals;
}

describe('scheduler at pool scale', () => {
  it('the pick with the detector read once per candidate list equals the pick with one read per candidate, and every picked endpoint that passed the filter carries its fresh-pass total, the primary a best one', () => {
    fc.assert(
      fc.property(fc.array(arbEndpoint, { minLength: 1, maxLength: 40 }), fc.array(arbStep, { minLength: 1, maxLength: 30 }), fc.boolean(), (rows, steps, swappable) => {
        const clock = new ManualClock(1_000);
        const store = new PoolStore({ clock, staleAfterMs: 1e9 });
        const tracker = new InflightTracker({ clock });
        const ids = rows.map((_, i) => store.upsert({ host: `10.3.0.${i}`, port: 8000 }));
        const tickets: InflightTicket[] = [];
        store.batch(() => {
          for (const [i, r] of rows.entries()) {
            const id = ids[i] as string;
            if (r.scraped) {
              store.recordMetrics(
                id,
                { waitingQueue: r.waiting, runningRequests: r.running, kvCacheUsage: r.kv, loraRunning: r.adapters, loraWaiting: [], maxLora: r.maxLora, kvBlockSize: 16, kvNumBlocks: 1_000 },
                clock.now(),
              );
            }
            for (let k = 0; k < r.load; k++) tickets.push(tracker.begin(id, 200, k === 0 ? r.unstarted : 0));
          }
        });
        const hybrid = new HybridDetector({ pool: store, inflight: tracker, clock, stalenessMs: 1e9 }, { maxNumBatchedTokens: 2_048 });
        const detector = swappable ? new SwappableSaturationDetector(hybrid) : hybrid;
        // The same detector behind the port's required methods only: one read per candidate.
        const perEndpoint: EndpointSaturationView = {
          endpointSaturation: (id) => detector.endpointSaturation(id),
          pacedEndpointSaturation: (id) => detector.pacedEndpointSaturation(id),
        };
        const index = new PrefixIndex();
        for (let p = 0; p < PROMPTS; p++) for (let k = 0; k < 3; k++) index.record(keys(p, 8 + 4 * p).slice(0, 4 + 2 * k), ids[(p * 5 + k * 3) % ids.length] as string);
        // Ties are broken by the random source: both draw from their own copy of one seeded sequence per pick.
        let randomA = new SeededRandom(0);
        let randomB = new SeededRandom(0);
        const batched = new Scheduler({ saturation: detector, prefixIndex: index, random: { next: () => randomA.next() } });
        const plain = new Scheduler({ saturation: perEndpoint, prefixIndex: index, random: { next: () => randomB.next() } });
        for (const s of steps) {
          const live = store.current().endpoints;
          switch (s.op) {
            case 'scrape': {
              const e = live[s.at % Math.max(1, live.length)];
              if (e !== undefined) store.recordMetrics(e.id, { waitingQueue: s.waiting, runningRequests: 3, kvCacheUsage: s.kv, loraRunning: [], loraWaiting: [], maxLora: 0 }, clock.now());
              break;
            }
            case 'end': {
              const t = tickets[s.at % Math.max(1, tickets.length)];
              if (t !== undefined) tracker.end(t);
              break;
            }
            case 'remove': {
              const e = live[s.at % Math.max(1, live.length)];
              if (e !== undefined && live.length > 1) store.remove(e.id);
              break;
            }
            case 'pick': {
              const request: ScheduleRequest = {
                model: 'base',
                ...(s.adapter ? { targetModel: 'lora-a' } : {}),
                prefixHashes: keys(s.prompt, 8 + 4 * s.prompt),
                endpointCount: s.count,
                pacePrefill: s.pace,
                ...(s.hint !== undefined ? { subsetHint: s.hint.map((i) => `10.3.0.${i}:8000`) } : {}),
              };
              const pool = store.current();
              randomA = new SeededRandom(s.seed);
              randomB = new SeededRandom(s.seed);
              const x = batched.schedule(request, pool, tracker);
              const y = plain.schedule(request, pool, tracker);
              expect(x.kind).toBe(y.kind);
              if (x.kind !== 'scheduled' || y.kind !== 'scheduled') break;
              expect(x.endpoints.map((e) => e.id)).toEqual(y.endpoints.map((e) => e.id));
              expect(x.scores).toEqual(y.scores);
              // The filtered candidates as one read per candidate finds them (fail open when none is left).
              const candidates = s.hint === undefined ? pool.endpoints : pool.endpoints.filter((e) => request.subsetHint?.includes(e.id));
              const room = (paced: boolean) => candidates.filter((e) => (paced ? detector.pacedEndpointSaturation(e.id) : detector.endpointSaturation(e.id)) < 1);
              const paced = s.pace ? room(true) : [];
              const kept = paced.length > 0 ? paced : room(false).length > 0 ? room(false) : candidates;
              const ctx: SchedulingContext = { request, pool, inflight: tracker, prefixIndex: index, saturation: perEndpoint };
              const totals = freshTotals(plain, ctx, kept);
              const best = Math.max(...totals);
              expect(x.scores[0]).toBe(best);
              for (let i = 0; i < Math.min(x.endpoints.length, kept.length); i++) {
                const k = kept.indexOf(x.endpoints[i] as EndpointSnapshot);
                expect(k).toBeGreaterThanOrEqual(0);
                expect(x.scores[i]).toBe(totals[k]);
              }
              // Dispatched: the primary's load rises, as in service.
              tickets.push(tracker.begin(x.endpoints[0]?.id ?? '', 300, 100));
              break;
            }
          }
        }
        detector.close();
        store.close();
      }),
      { numRuns: 300 },
    );
  });
});
