// Routing examples from the Go reference's tests, replayed as a compatibility check.
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/core/index.js';
import {
  KV_CACHE_SCORER,
  LORA_AFFINITY_SCORER,
  MAX_SCORE_PICKER,
  PREFIX_CACHE_SCORER,
  type PrefixHasher,
  QUEUE_SCORER,
  Scheduler,
  buildProfile,
  createPrefixHasher,
} from '../../../src/scheduler/index.js';
import { endpoint, noInflight, pool } from './support.js';

describe('Go hermetic test: "select lower queue and kv cache, no active lora"', () => {
  it('queue/KV (3, 0.2), (0, 0.1), (10, 0.2) with equal weights picks the second endpoint', () => {
    const profile = buildProfile({
      filters: [],
      scorers: [
        { type: QUEUE_SCORER, weight: 1 },
        { type: KV_CACHE_SCORER, weight: 1 },
      ],
      picker: { type: MAX_SCORE_PICKER },
    });
    const scheduler = new Scheduler({ profile, random: new SeededRandom(1) });
    const eps = [
      endpoint('address-0:8000', { waitingQueue: 3, kvCacheUsage: 0.2 }),
      endpoint('address-1:8000', { waitingQueue: 0, kvCacheUsage: 0.1 }),
      endpoint('address-2:8000', { waitingQueue: 10, kvCacheUsage: 0.2 }),
    ];
    const result = scheduler.schedule({ model: 'my-model' }, pool(eps), noInflight);
    expect(result.kind).toBe('scheduled');
    if (result.kind !== 'scheduled') return;
    expect(result.endpoints[0]?.id).toBe('address-1:8000');
    expect(result.scores[0]).toBeCloseTo(1.9, 10); // queue 1 + KV 0.9
  });
});

describe('Go TestSchedule: "finds optimal endpoint"', () => {
  it('the endpoint with the requested LoRA loaded wins, with total score 2.8', () => {
    const profile = buildProfile({
      filters: [],
      scorers: [
        { type: KV_CACHE_SCORER, weight: 1 },
        { type: QUEUE_SCORER, weight: 1 },
        { type: PREFIX_CACHE_SCORER, weight: 1 },
        { type: LORA_AFFINITY_SCORER, weight: 1 },
      ],
      picker: { type: MAX_SCORE_PICKER },
    });
    const scheduler = new Scheduler({ profile, random: new SeededRandom(2) });
    const eps = [
      endpoint('pod1:8000', { waitingQueue: 0, kvCacheUsage: 0.2, maxLora: 2, loraRunning: ['foo', 'bar'] }),
      endpoint('pod2:8000', { waitingQueue: 0, kvCacheUsage: 0.2, maxLora: 2, loraRunning: ['foo', 'critical'] }),
      endpoint('pod3:8000', { waitingQueue: 10, kvCacheUsage: 0.8, maxLora: 2, loraRunning: ['foo'] }),
    ];
    const result = scheduler.schedule({ model: 'critical', targetModel: 'critical' }, pool(eps), noInflight);
    expect(result.kind).toBe('scheduled');
    if (result.kind !== 'scheduled') return;
    expect(result.endpoints.map((e) => e.id)).toEqual(['pod2:8000']);
    expect(result.scores[0]).toBeCloseTo(2.8, 10); // KV 0.8 + queue 1 + prefix 0 + LoRA 1
  });

  it('an endpoint with the LoRA loaded wins over one with lower KV usage', () => {
    const profile = buildProfile({
      filters: [],
      scorers: [
        { type: KV_CACHE_SCORER, weight: 1 },
        { type: LORA_AFFINITY_SCORER, weight: 1 },
      ],
      picker: { type: MAX_SCORE_PICKER },
    });
    const scheduler = new Scheduler({ profile, random: new SeededRandom(3) });
    const eps = [
      endpoint('low-kv:8000', { kvCacheUsage: 0.1, maxLora: 2, loraRunning: ['foo', 'bar'] }),
      endpoint('has-lora:8000', { kvCacheUsage: 0.3, maxLora: 2, loraRunning: ['foo', 'sql-lora'] }),
    ];
    const result = scheduler.schedule({ model: 'base', targetModel: 'sql-lora' }, pool(eps), noInflight);
    expect(result.kind === 'scheduled' && result.endpoints[0]?.id).toBe('has-lora:8000');
  });

  it('no candidate endpoints is a failure, not a pick', () => {
    const result = new Scheduler().schedule({ model: 'any-model' }, pool([]), noInflight);
    expect(result).toMatchObject({ kind: 'unschedulable', reason: 'no-endpoints' });
  });
});

describe('Go TestPrefixPluginCompletion (block size 4)', () => {
  let hasher: PrefixHasher;
  beforeAll(async () => {
    hasher = await createPrefixHasher({ blockSize: 4 });
  });

  it('replays the five-request sequence: scores 0, 0, 0.5, 0, 2/3', () => {
    const profile = buildProfile({ filters: [], scorers: [{ type: PREFIX_CACHE_SCORER, weight: 1 }], picker: { type: MAX_SCORE_PICKER } });
    const scheduler = new Scheduler({ profile, random: new SeededRandom(4) });
    const pod1 = endpoint('pod1:8000');
    const pod2 = endpoint('pod2:8000');
    const p = pool([pod1, pod2]);
    const scoresFor = (model: string, prompt: string): [number[], Float64Array] => {
      const hashes = hasher.hashBody({ model, prompt });
      const profileScores = [pod1, pod2].map((e) => {
        const r = scheduler.schedule({ model, prefixHashes: hashes, subsetHint: [e.id] }, p, noInflight);
        return r.kind === 'scheduled' ? (r.scores[0] ?? -1) : -1;
      });
      return [profileScores, hashes];
    };

    let [scores, hashes] = scoresFor('test-model1', 'aaaaaa');
    expect(hashes.length).toBe(1); // 6 bytes, block 4: the tail is ignored
    expect(scores).toEqual([0, 0]);
    scheduler.recordRouting(hashes, pod1);

    [scores, hashes] = scoresFor('test-model2', 'bbbbbb');
    expect(scores).toEqual([0, 0]);
    scheduler.recordRouting(hashes, pod2);

    [scores, hashes] = scoresFor('test-model1', 'aaaabbbb');
    expect(hashes.length).toBe(2);
    expect(scores).toEqual([0.5, 0]);
    scheduler.recordRouting(hashes, pod1);

    [scores, hashes] = scoresFor('test-model-new', 'aaaabbbb'); // same prompt, other model: no match
    expect(scores).toEqual([0, 0]);
    scheduler.recordRouting(hashes, pod1);

    [scores, hashes] = scoresFor('test-model1', 'aaaabbbbcccc');
    expect(hashes.length).toBe(3);
    expect(scores[0]).toBeCloseTo(2 / 3, 12);
    expect(scores[1]).toBe(0);
  });
});
