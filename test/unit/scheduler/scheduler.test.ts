import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidArgumentError, SeededRandom } from '../../../src/core/index.js';
import {
  DEFAULT_PROFILE_CONFIG,
  LORA_CAPACITY_FILTER,
  MAX_SCORE_PICKER,
  QUEUE_SCORER,
  Scheduler,
  buildProfile,
} from '../../../src/scheduler/index.js';
import { FakeInflight, context, endpoint, noInflight, pool } from './support.js';

const three = pool([endpoint('10.0.0.1:8000'), endpoint('10.0.0.2:8000'), endpoint('[::1]:8000')]);

describe('Scheduler', () => {
  it('honours the subset hint: only those ids are candidates', () => {
    const s = new Scheduler({ random: new SeededRandom(1) });
    for (let i = 0; i < 20; i++) {
      const r = s.schedule({ model: 'm', subsetHint: ['[::1]:8000', 'unknown:1'] }, three, noInflight);
      expect(r.kind === 'scheduled' && r.endpoints[0]?.id).toBe('[::1]:8000');
    }
  });

  it('an empty subset hint, or one matching nothing, is the distinct empty-subset failure', () => {
    const s = new Scheduler();
    expect(s.schedule({ model: 'm', subsetHint: [] }, three, noInflight)).toMatchObject({ kind: 'unschedulable', reason: 'empty-subset' });
    expect(s.schedule({ model: 'm', subsetHint: ['1.2.3.4:1'] }, three, noInflight)).toMatchObject({
      kind: 'unschedulable',
      reason: 'empty-subset',
    });
  });

  it('returns N distinct endpoints, primary first, best score first', () => {
    const s = new Scheduler({ random: new SeededRandom(2) });
    const p = pool([endpoint('a:1', { waitingQueue: 4 }), endpoint('b:1', { waitingQueue: 0 }), endpoint('c:1', { waitingQueue: 2 })]);
    const r = s.schedule({ model: 'm', endpointCount: 3 }, p, noInflight);
    expect(r.kind === 'scheduled' && r.endpoints.map((e) => e.id)).toEqual(['b:1', 'c:1', 'a:1']);
  });

  it('rejects an invalid endpoint count naming the field', () => {
    expect(() => new Scheduler().schedule({ model: 'm', endpointCount: 0 }, three, noInflight)).toThrow(InvalidArgumentError);
    expect(() => new Scheduler().schedule({ model: 'm', endpointCount: 0 }, three, noInflight)).toThrow(/endpointCount/);
  });

  it('spreads back-to-back requests between two scrapes instead of herding onto one endpoint', () => {
    const s = new Scheduler({ random: new SeededRandom(3) });
    const eps = Array.from({ length: 4 }, (_, i) => endpoint(`e${i}:1`, { waitingQueue: 0, kvCacheUsage: 0.1 }));
    const inflight = new FakeInflight();
    const hits = new Map<string, number>();
    for (let i = 0; i < 8; i++) {
      const r = s.schedule({ model: 'm' }, pool(eps), inflight);
      if (r.kind !== 'scheduled') throw new Error('unschedulable');
      const id = r.endpoints[0]!.id;
      inflight.dispatch(id);
      hits.set(id, (hits.get(id) ?? 0) + 1);
    }
    expect([...hits.values()]).toEqual([2, 2, 2, 2]);
  });

  it('reports a non-fail-open filter that removes everything as filtered', () => {
    const profile = buildProfile({
      filters: [{ type: LORA_CAPACITY_FILTER, parameters: { failOpen: false } }],
      scorers: [{ type: QUEUE_SCORER, weight: 1 }],
      picker: { type: MAX_SCORE_PICKER },
    });
    const p = pool([endpoint('a:1', { maxLora: 1, loraRunning: ['other'] })]);
    const r = new Scheduler({ profile }).schedule({ model: 'base', targetModel: 'wanted' }, p, noInflight);
    expect(r).toMatchObject({ kind: 'unschedulable', reason: 'filtered' });
  });

  it('sizes the prefix index from the endpoint reported block count, rescaled to 16-token blocks', () => {
    const s = new Scheduler();
    s.recordRouting([1, 2, 3], endpoint('a:1', { kvNumBlocks: 100, kvBlockSize: 32 }));
    s.recordRouting([1, 2, 3], endpoint('b:1', { kvNumBlocks: 100 }));
    s.recordRouting([1, 2, 3], endpoint('c:1'));
    expect(s.prefixIndex.capacity('a:1')).toBe(200);
    expect(s.prefixIndex.capacity('b:1')).toBe(100);
    expect(s.prefixIndex.capacity('c:1')).toBe(31_250);
  });

  it('forgets the prefix entries of endpoints that left the pool', () => {
    const s = new Scheduler();
    s.recordRouting([1, 2], endpoint('gone:1'));
    s.schedule({ model: 'm' }, pool([endpoint('a:1')], 7), noInflight);
    expect(s.prefixIndex.endpointIds()).toEqual([]);
  });
});

describe('Scheduler with the saturation detector view', () => {
  it('keeps only endpoints the detector says have headroom, even when their metrics look idle', () => {
    const full = new Set(['10.0.0.1:8000', '10.0.0.2:8000']);
    const s = new Scheduler({
      random: new SeededRandom(3),
      saturation: { endpointSaturation: (id) => (full.has(id) ? 1 : 0.2) },
    });
    for (let i = 0; i < 20; i++) {
      const r = s.schedule({ model: 'm' }, three, noInflight);
      expect(r.kind === 'scheduled' && r.endpoints[0]?.id).toBe('[::1]:8000');
    }
  });

  it('lists live full endpoints as the last fallbacks (after those with headroom), never stale or unscraped ones', () => {
    const eps = [
      endpoint('room:1', { waitingQueue: 1 }),
      endpoint('full-busy:1', { waitingQueue: 9 }),
      endpoint('full-idle:1', { waitingQueue: 6 }),
      endpoint('stale:1', { waitingQueue: 0 }, true),
      endpoint('unscraped:1', null),
    ];
    const room = new Set(['room:1']);
    const s = new Scheduler({ random: new SeededRandom(5), saturation: { endpointSaturation: (id) => (room.has(id) ? 0.3 : 1.2) } });
    const r = s.schedule({ model: 'm', endpointCount: 4 }, pool(eps), noInflight);
    // The primary is the one with headroom; the full ones follow, the less loaded first; nothing stale.
    expect(r.kind === 'scheduled' && r.endpoints.map((e) => e.id)).toEqual(['room:1', 'full-idle:1', 'full-busy:1']);
    // One endpoint asked for: exactly the one with headroom, as before.
    const one = s.schedule({ model: 'm', endpointCount: 1 }, pool(eps), noInflight);
    expect(one.kind === 'scheduled' && one.endpoints.map((e) => e.id)).toEqual(['room:1']);
  });

  it('fails open when the detector says no endpoint has headroom', () => {
    const s = new Scheduler({ random: new SeededRandom(3), saturation: { endpointSaturation: () => 1.5 } });
    expect(s.schedule({ model: 'm' }, three, noInflight).kind).toBe('scheduled');
  });

  it('sends a paced request (pacePrefill) where no prefill backlog waits, if any such endpoint has headroom; others as before', () => {
    // Queue scores favour 10.0.0.1, but it and [::1] have half a step of unstarted prompts queued.
    const eps = [endpoint('10.0.0.1:8000', { waitingQueue: 0 }), endpoint('10.0.0.2:8000', { waitingQueue: 3 }), endpoint('[::1]:8000', { waitingQueue: 0 })];
    const backlog = new Set(['10.0.0.1:8000', '[::1]:8000']);
    const view = { endpointSaturation: () => 0.3, pacedEndpointSaturation: (id: string) => (backlog.has(id) ? 1 : 0.3) };
    const s = new Scheduler({ random: new SeededRandom(3), saturation: view });
    for (let i = 0; i < 10; i++) {
      const paced = s.schedule({ model: 'm', pacePrefill: true }, pool(eps), noInflight);
      expect(paced.kind === 'scheduled' && paced.endpoints[0]?.id).toBe('10.0.0.2:8000');
      const plain = s.schedule({ model: 'm' }, pool(eps), noInflight);
      expect(plain.kind === 'scheduled' && plain.endpoints[0]?.id).not.toBe('10.0.0.2:8000');
    }
    // Every endpoint with headroom has a backlog: the paced request goes where headroom is, as any other.
    backlog.add('10.0.0.2:8000');
    const r = s.schedule({ model: 'm', pacePrefill: true }, pool(eps), noInflight);
    expect(r.kind === 'scheduled' && r.endpoints[0]?.id).not.toBe('10.0.0.2:8000');
  });
});

describe('the default profile and LoRA adapters', () => {
  const adapter = 'sql-lora';
  const loaded = endpoint('loaded:1', { waitingQueue: 2, kvCacheUsage: 0.3, loraRunning: [adapter], maxLora: 4 });
  const full = endpoint('full:1', { waitingQueue: 2, kvCacheUsage: 0.3, loraRunning: ['a', 'b', 'c', 'd'], maxLora: 4 });
  const room = endpoint('room:1', { waitingQueue: 2, kvCacheUsage: 0.3, loraRunning: ['a'], maxLora: 4 });

  it('an adapter-loaded pod wins over an equally loaded one, whatever the tie-break and the order', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const s = new Scheduler({ random: new SeededRandom(seed) });
      for (const order of [[loaded, room, full], [full, room, loaded], [room, loaded]]) {
        const r = s.schedule({ model: 'base', targetModel: adapter }, pool(order), noInflight);
        expect(r.kind === 'scheduled' && r.endpoints[0]?.id).toBe('loaded:1');
      }
      // Not loaded anywhere: a pod with a free adapter slot beats one that would have to evict an adapter.
      const r = s.schedule({ model: 'base', targetModel: 'new-lora' }, pool([full, room]), noInflight);
      expect(r.kind === 'scheduled' && r.endpoints[0]?.id).toBe('room:1');
    }
  });

  it('load still decides when the adapter pod is much busier', () => {
    const busy = endpoint('loaded:1', { waitingQueue: 30, kvCacheUsage: 0.95, loraRunning: [adapter], maxLora: 4 });
    const idle = endpoint('room:1', { waitingQueue: 0, kvCacheUsage: 0.05, loraRunning: ['a'], maxLora: 4 });
    const r = new Scheduler({ random: new SeededRandom(1) }).schedule({ model: 'base', targetModel: adapter }, pool([busy, idle]), noInflight);
    expect(r.kind === 'scheduled' && r.endpoints[0]?.id).toBe('room:1');
  });

  it('with no adapter in use anywhere, the LoRA scorer changes no score (pools without LoRA route as before)', () => {
    const withLora = buildProfile(DEFAULT_PROFILE_CONFIG);
    const without = buildProfile({ ...DEFAULT_PROFILE_CONFIG, scorers: DEFAULT_PROFILE_CONFIG.scorers.filter((x) => x.type !== 'lora-affinity-scorer') });
    const eps = [
      endpoint('a:1', { waitingQueue: 3, kvCacheUsage: 0.5, maxLora: 4 }),
      endpoint('b:1', { waitingQueue: 1, kvCacheUsage: 0.7, maxLora: 4 }),
      endpoint('c:1', { waitingQueue: 0, kvCacheUsage: 0.2 }),
    ];
    const ctx = context({ model: 'm', targetModel: 'm' });
    const a = withLora.run(ctx, eps, 3, new SeededRandom(5));
    const b = without.run(ctx, eps, 3, new SeededRandom(5));
    expect(a).toEqual(b);
  });
});

describe('profile configuration', () => {
  it('builds the default profile: Go weights plus in-flight awareness', () => {
    const profile = buildProfile(DEFAULT_PROFILE_CONFIG);
    expect(profile.scorers.map((w) => [w.scorer.type, w.weight])).toEqual([
      ['queue-scorer', 2],
      ['kv-cache-utilization-scorer', 2],
      ['prefix-cache-scorer', 3],
      ['inflight-load-scorer', 2],
      ['lora-affinity-scorer', 2],
    ]);
    expect(profile.picker.type).toBe('max-score-picker');
    expect(profile.filters.map((f) => f.type)).toEqual(['saturation-filter']);
  });

  it('names the offending path for unknown plug-ins, bad weights and bad parameters', () => {
    const base = { filters: [], scorers: [], picker: { type: MAX_SCORE_PICKER } };
    expect(() => buildProfile({ ...base, picker: { type: 'nope' } })).toThrow(/scheduler\.profile\.picker\.type.*known: max-score-picker/);
    expect(() => buildProfile({ ...base, scorers: [{ type: QUEUE_SCORER, weight: -1 }] })).toThrow(ConfigError);
    expect(() => buildProfile({ ...base, scorers: [{ type: QUEUE_SCORER, weight: -1 }] })).toThrow(/scorers\.0\.weight/);
    expect(() =>
      buildProfile({ ...base, filters: [{ type: 'saturation-filter', parameters: { kvCacheThreshold: 2 } }] }),
    ).toThrow(/filters\.0\.parameters\.kvCacheThreshold/);
    expect(() => buildProfile({ ...base, scorers: [{ type: QUEUE_SCORER, weight: 1, parameters: { x: 1 } }] })).toThrow(ConfigError);
  });
});
