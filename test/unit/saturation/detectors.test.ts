import { describe, expect, it } from 'vitest';
import {
  ConcurrencyDetector,
  DEFAULT_SATURATION_DETECTOR,
  HybridDetector,
  UtilizationDetector,
  aggregate,
  createSaturationDetectorRegistry,
} from '../../../src/saturation/index.js';
import { poolOf } from './pool-fixture.js';

describe('aggregate', () => {
  it('headroom: mean of scores clamped at 1 while some endpoint has room, else the least-loaded score', () => {
    expect(aggregate([3, 0], 'headroom')).toBe(0.5);
    expect(aggregate([3, 0.7], 'headroom')).toBeCloseTo(0.85, 10);
    expect(aggregate([3, 1.5], 'headroom')).toBe(1.5);
    expect(aggregate([], 'headroom')).toBe(1);
    expect(aggregate([3, 0], 'mean')).toBe(1.5);
    expect(aggregate([3, 0.2], 'min')).toBe(0.2);
  });
});

describe('UtilizationDetector', () => {
  it('caches: the same details object until the pool snapshot changes', () => {
    const f = poolOf([{ waiting: 1, kv: 0.1, ageMs: 0 }]);
    const d = new UtilizationDetector({ pool: f.store, clock: f.clock });
    const first = d.details();
    expect(d.details()).toBe(first);
    f.scrape(f.ids[0]!, 4, 0.1);
    expect(d.details()).not.toBe(first);
    expect(d.saturation()).toBeCloseTo(0.8, 10);
  });

  it('re-evaluates on its own when fresh metrics age past the staleness limit, with no new snapshot', () => {
    const f = poolOf([{ waiting: 1, kv: 0.1, ageMs: 0 }]);
    const d = new UtilizationDetector({ pool: f.store, clock: f.clock }, { stalenessMs: 200 });
    expect(d.saturation()).toBeCloseTo(0.2, 10);
    f.clock.advance(200);
    expect(d.saturation()).toBeCloseTo(0.2, 10);
    f.clock.advance(1);
    expect(d.saturation()).toBe(1);
    expect(d.details().staleEndpoints).toBe(1);
  });

  it('takes the pool staleness limit from its dependencies, and its own stalenessMs option over it', () => {
    for (const [deps, options, staleAfter] of [
      [{ stalenessMs: 500 }, {}, 500],
      [{ stalenessMs: 500 }, { stalenessMs: 300 }, 300],
      [{}, {}, 200],
    ] as const) {
      const f = poolOf([{ waiting: 1, kv: 0.1, ageMs: 0 }]);
      const made = [
        new UtilizationDetector({ pool: f.store, clock: f.clock, ...deps }, options),
        new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock, ...deps }, options),
      ];
      for (const d of made) expect(d.thresholds.stalenessMs).toBe(staleAfter);
      f.clock.advance(staleAfter + 1);
      for (const d of made) expect(d.saturation()).toBe(1);
    }
  });

  it('counts store-flagged stale endpoints (failed scrape) as saturated even with recent metrics', () => {
    const f = poolOf([{ waiting: 0, kv: 0, ageMs: 0, failed: true }, { waiting: 0, kv: 0, ageMs: 0 }]);
    const d = new UtilizationDetector({ pool: f.store, clock: f.clock });
    expect(d.details()).toMatchObject({ staleEndpoints: 1, saturation: 0.5 });
    expect(d.endpointSaturation(f.ids[0]!)).toBe(1);
    expect(d.endpointSaturation('unknown:1')).toBe(1);
  });

  it('onChange fires on each new snapshot until closed', () => {
    const f = poolOf([{ waiting: 1, kv: 0.1, ageMs: 0 }]);
    const d = new UtilizationDetector({ pool: f.store, clock: f.clock });
    let calls = 0;
    const off = d.onChange(() => calls++);
    f.scrape(f.ids[0]!, 0, 0);
    expect(calls).toBe(1);
    off();
    f.scrape(f.ids[0]!, 0, 0);
    expect(calls).toBe(1);
    d.onChange(() => calls++);
    d.close();
    f.scrape(f.ids[0]!, 0, 0);
    expect(calls).toBe(1);
  });

  it('rejects invalid thresholds with errors naming the field', () => {
    const f = poolOf([]);
    expect(() => new UtilizationDetector({ pool: f.store }, { queueThreshold: 0 })).toThrow(/queueThreshold/);
    expect(() => new UtilizationDetector({ pool: f.store }, { kvThreshold: 1.5 })).toThrow(/kvThreshold/);
    expect(() => new UtilizationDetector({ pool: f.store }, { stalenessMs: -1 })).toThrow(/stalenessMs/);
  });
});

describe('ConcurrencyDetector', () => {
  it('scores in-flight requests (default), tokens, or the larger of both against capacity', () => {
    const f = poolOf([{ waiting: 0, kv: 0 }, { waiting: 0, kv: 0 }]);
    const deps = { pool: f.store, inflight: f.inflight, clock: f.clock };
    for (let i = 0; i < 50; i++) f.inflight.begin(f.ids[0]!, 30_000);
    const byRequests = new ConcurrencyDetector(deps);
    const byTokens = new ConcurrencyDetector(deps, { mode: 'tokens' });
    const both = new ConcurrencyDetector(deps, { mode: 'both', maxRequests: 200 });
    expect(byRequests.endpointSaturation(f.ids[0]!)).toBe(0.5);
    expect(byTokens.endpointSaturation(f.ids[0]!)).toBe(1.5);
    expect(both.endpointSaturation(f.ids[0]!)).toBe(1.5);
    expect(byTokens.saturation()).toBe(0.5); // the idle endpoint still has room
    expect(byRequests.endpointSaturation(f.ids[1]!)).toBe(0);
  });

  it('re-evaluates after each dispatch and fires onChange when work ends', () => {
    const f = poolOf([{ waiting: 0, kv: 0 }]);
    const d = new ConcurrencyDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { maxRequests: 2 });
    let changes = 0;
    d.onChange(() => changes++);
    const t = f.inflight.begin(f.ids[0]!, 1);
    expect(d.saturation()).toBe(0.5);
    f.inflight.begin(f.ids[0]!, 1);
    expect(d.saturation()).toBe(1);
    expect(changes).toBe(0);
    f.inflight.end(t);
    expect(changes).toBe(1);
    expect(d.saturation()).toBe(0.5);
  });

  it('requires an in-flight feed', () => {
    expect(() => new ConcurrencyDetector({ pool: poolOf([]).store })).toThrow(/inflight/);
  });
});

describe('HybridDetector', () => {
  it('adds dispatches since the last scrape to the scraped queue, and drops them when the scrape lands', () => {
    const f = poolOf([{ waiting: 2, kv: 0.1, ageMs: 0 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock });
    const id = f.ids[0]!;
    expect(d.saturation()).toBeCloseTo(0.4, 10);
    f.inflight.begin(id, 100);
    f.inflight.begin(id, 100);
    expect(d.saturation()).toBeCloseTo(0.8, 10);
    f.inflight.begin(id, 100);
    expect(d.saturation()).toBe(1); // a burst cannot all pass through the same apparent headroom
    f.clock.advance(1);
    f.scrape(id, 1, 0.1); // the server shows where they went: two running, one waiting
    expect(d.saturation()).toBeCloseTo(0.2, 10);
  });

  it('adds unseen tokens to KV usage when the cache geometry is known', () => {
    const f = poolOf([{ waiting: 0, kv: 0.5, ageMs: 0, blockSize: 16, numBlocks: 1000 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { kvThreshold: 0.8 });
    f.inflight.begin(f.ids[0]!, 3200); // 3200 / 16000 = 0.2 of the cache
    expect(d.endpointSaturation(f.ids[0]!)).toBeCloseTo(0.7 / 0.8, 10);
  });

  it('applies optional hard caps on total in-flight work', () => {
    const f = poolOf([{ waiting: 0, kv: 0, ageMs: 0 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { maxRequests: 4, unseenRequestWeight: 0 });
    for (let i = 0; i < 3; i++) f.inflight.begin(f.ids[0]!, 1);
    expect(d.saturation()).toBe(0.75);
  });

  it('credits a finished request the scrape had counted at once: one slot freed, one waiting request admitted, its tokens freed', () => {
    const f = poolOf([{ waiting: 0, kv: 0, ageMs: 0, blockSize: 16, numBlocks: 1000 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { queueThreshold: 5, kvThreshold: 0.8, queuedTokenWeight: 0 });
    const id = f.ids[0]!;
    const running = [f.inflight.begin(id, 1600), f.inflight.begin(id, 1600)];
    f.clock.advance(1);
    f.scrape(id, 5, 0.5); // the scrape sees our two running requests and a full queue
    expect(d.saturation()).toBe(1);
    f.inflight.end(running[0]!);
    // Before the next scrape: waiting 5 - 1 = 4, KV 0.5 - 1600 / 16000 = 0.4.
    expect(d.endpointSaturation(id)).toBeCloseTo(0.8, 10);
    expect(d.details().inflightVersion).toBe(f.inflight.version);
    // The open loop still adds on top: one dispatch into the freed slot closes the gate again.
    const next = f.inflight.begin(id, 0);
    expect(d.endpointSaturation(id)).toBe(1);
    f.inflight.end(next); // unseen by any scrape: it only leaves the open loop, no credit
    expect(d.endpointSaturation(id)).toBeCloseTo(0.8, 10);
    f.clock.advance(1);
    f.scrape(id, 4, 0.45); // the next scrape reflects the end; the credit is dropped, not applied twice
    expect(d.endpointSaturation(id)).toBeCloseTo(0.8, 10);
  });

  it('counts the KV that requests in the server queue will need, at the mean estimate of our requests there', () => {
    const f = poolOf([{ waiting: 0, kv: 0, ageMs: 0, blockSize: 16, numBlocks: 1000 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { queueThreshold: 100, kvThreshold: 0.8, learnSlotLimit: false });
    const off = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { queueThreshold: 100, kvThreshold: 0.8, learnSlotLimit: false, queuedTokenWeight: 0 });
    const id = f.ids[0]!;
    for (let i = 0; i < 4; i++) f.inflight.begin(id, 1600);
    f.clock.advance(1);
    f.scrape(id, 2, 0.4); // two of the four wait: 0.4 in use, 2 x 1,600 tokens of 16,000 still to come
    expect(off.endpointSaturation(id)).toBeCloseTo(0.4 / 0.8, 10);
    expect(d.endpointSaturation(id)).toBeCloseTo((0.4 + 0.2) / 0.8, 10);
  });

  it('never credits finished work below zero waiting or zero KV, and adds the open loop after the floor', () => {
    const f = poolOf([{ waiting: 0, kv: 0, ageMs: 0, blockSize: 16, numBlocks: 1000 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { queueThreshold: 4, kvThreshold: 0.5 });
    const id = f.ids[0]!;
    const seen = [f.inflight.begin(id, 8000), f.inflight.begin(id, 8000), f.inflight.begin(id, 8000)];
    f.clock.advance(1);
    f.scrape(id, 1, 0.2);
    for (const t of seen) f.inflight.end(t); // 3 ended vs 1 waiting; 24000 tokens vs 0.2 x 16000 = 3200 used
    expect(d.endpointSaturation(id)).toBe(0);
    f.inflight.begin(id, 1600);
    // waiting' = max(0, 1 - 3) + 1 = 1 (not -1); kv' = max(0, 0.2 - 1.5) + 0.1 = 0.1 (not negative).
    expect(d.endpointSaturation(id)).toBeCloseTo(Math.max(1 / 4, 0.1 / 0.5), 10);
  });

  it('finishedRequestCredit 0 keeps the scraped figures until the next scrape (the behaviour before the credit)', () => {
    const f = poolOf([{ waiting: 0, kv: 0, ageMs: 0 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { finishedRequestCredit: 0 });
    const id = f.ids[0]!;
    const t = f.inflight.begin(id, 1);
    f.clock.advance(1);
    f.scrape(id, 5, 0);
    f.inflight.end(t);
    expect(d.saturation()).toBe(1);
    expect(d.finishedRequestCredit).toBe(0);
    expect(new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }).finishedRequestCredit).toBe(1);
  });

  it('fires onChange when work ends, so flow control re-evaluates the gate before the next scrape', () => {
    const f = poolOf([{ waiting: 0, kv: 0, ageMs: 0 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock });
    const id = f.ids[0]!;
    const t = f.inflight.begin(id, 1);
    f.clock.advance(1);
    f.scrape(id, 5, 0);
    const seenByListener: number[] = []; // recorded, not asserted inside: the detector swallows listener errors
    d.onChange(() => seenByListener.push(d.saturation()));
    f.inflight.end(t);
    expect(seenByListener).toHaveLength(1);
    expect(seenByListener[0]).toBeCloseTo(0.8, 10); // already reflects the end when listeners run
  });

  it('rejects an invalid finishedRequestCredit with an error naming the field', () => {
    const f = poolOf([]);
    const deps = { pool: f.store, inflight: f.inflight };
    expect(() => new HybridDetector(deps, { finishedRequestCredit: -1 })).toThrow(/finishedRequestCredit/);
    expect(() => new HybridDetector(deps, { finishedRequestCredit: Number.NaN })).toThrow(/finishedRequestCredit/);
    expect(() => new HybridDetector(deps, { finishedRequestCredit: Number.POSITIVE_INFINITY })).toThrow(/finishedRequestCredit/);
  });

  it('fails closed on stale endpoints whatever the in-flight count', () => {
    const f = poolOf([{ waiting: 0, kv: 0, ageMs: 500 }]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock });
    expect(d.details()).toMatchObject({ saturation: 1, staleEndpoints: 1 });
  });

  it('paces prefill: an endpoint whose unstarted prompts reach half the step budget has no paced headroom, the plain score unchanged', () => {
    const f = poolOf([
      { waiting: 0, kv: 0, ageMs: 0 },
      { waiting: 0, kv: 0, ageMs: 0 },
    ]);
    const d = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { queueThreshold: 100, learnSlotLimit: false, maxNumBatchedTokens: 2_048 });
    const [a, b] = [f.ids[0]!, f.ids[1]!];
    const first = f.inflight.begin(a, 1_152, 1_024);
    expect(d.pacedEndpointSaturation(a)).toBeCloseTo(1, 10); // 1,024 of the paced 1,024
    expect(d.endpointSaturation(a)).toBeCloseTo(1 / 100, 10); // the gate's own score does not see it
    expect(d.pacedEndpointSaturation(b)).toBe(0);
    expect(d.details().pacedEndpoints.has(b)).toBe(false); // kept only where it differs
    // headroom aggregation: a is full for paced work, b is idle.
    expect(d.pacedSaturation()).toBeCloseTo((1 + 0) / 2, 10);
    f.inflight.begin(b, 600, 512);
    expect(d.pacedSaturation()).toBeCloseTo((1 + 0.5) / 2, 10);
    f.inflight.started(first); // its first token: the backlog on a is gone
    expect(d.pacedEndpointSaturation(a)).toBeCloseTo(d.endpointSaturation(a), 10);
    // maxNumBatchedTokens 0 turns pacing off: paced equals plain.
    const off = new HybridDetector({ pool: f.store, inflight: f.inflight, clock: f.clock }, { queueThreshold: 100, learnSlotLimit: false, maxNumBatchedTokens: 0 });
    expect(off.pacedSaturation()).toBe(off.saturation());
    expect(() => new HybridDetector({ pool: f.store, inflight: f.inflight }, { maxNumBatchedTokens: -1 })).toThrow(/maxNumBatchedTokens/);
  });

  it('reports paced figures equal to the plain ones for detectors that do not pace', () => {
    const f = poolOf([{ waiting: 3, kv: 0.2, ageMs: 0 }]);
    const u = new UtilizationDetector({ pool: f.store, clock: f.clock });
    f.inflight.begin(f.ids[0]!, 1_000, 4_096);
    expect(u.pacedSaturation()).toBe(u.saturation());
    expect(u.pacedEndpointSaturation(f.ids[0]!)).toBe(u.endpointSaturation(f.ids[0]!));
  });
});

describe('saturation detector registry', () => {
  it('holds utilization, concurrency and hybrid; hybrid is the default', () => {
    const registry = createSaturationDetectorRegistry();
    expect(registry.names()).toEqual(['utilization', 'concurrency', 'hybrid']);
    expect(DEFAULT_SATURATION_DETECTOR).toBe('hybrid');
    const f = poolOf([{ waiting: 1, kv: 0.1, ageMs: 0 }]);
    const d = registry.get(DEFAULT_SATURATION_DETECTOR)({ pool: f.store, inflight: f.inflight, clock: f.clock }, { queueThreshold: 10 });
    expect(d.name).toBe('hybrid');
    expect(d.saturation()).toBeCloseTo(Math.max(1 / 10, 0.1 / 0.9), 10); // hybrid's KV threshold is 0.9
  });

  it('rejects unknown keys and bad values with a ConfigError naming the path', () => {
    const registry = createSaturationDetectorRegistry();
    const f = poolOf([]);
    const deps = { pool: f.store, inflight: f.inflight, clock: f.clock };
    expect(() => registry.get('utilization')(deps, { queueTreshold: 5 })).toThrow(/saturation\.utilization/);
    expect(() => registry.get('hybrid')(deps, { kvThreshold: 2 })).toThrow(/saturation\.hybrid\.kvThreshold/);
    expect(() => registry.get('concurrency')(deps, { mode: 'bytes' })).toThrow(/saturation\.concurrency\.mode/);
    expect(() => registry.get('nope')).toThrow(/known: utilization, concurrency, hybrid/);
  });
});
