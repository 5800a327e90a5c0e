import { describe, expect, it } from 'vitest';
import {
  InflightLoadScorer,
  KvCacheScorer,
  LoadAwareScorer,
  LoraAffinityScorer,
  PrefixCacheScorer,
  PrefixIndex,
  QueueScorer,
  RunningRequestsScorer,
  TokenLoadScorer,
} from '../../../src/scheduler/index.js';
import { FakeInflight, context, endpoint, scoresOf } from './support.js';

describe('queue scorer (min-max, lower is better)', () => {
  it('scores queues 10, 5, 0 as 0, 0.5, 1 (Go queue_test)', () => {
    const eps = [endpoint('a:1', { waitingQueue: 10 }), endpoint('b:1', { waitingQueue: 5 }), endpoint('c:1', { waitingQueue: 0 })];
    expect(scoresOf(new QueueScorer(), eps)).toEqual([0, 0.5, 1]);
  });
  it('scores 1 for everyone when all queues are equal, including all zero', () => {
    expect(scoresOf(new QueueScorer(), [endpoint('a:1', { waitingQueue: 5 }), endpoint('b:1', { waitingQueue: 5 })])).toEqual([1, 1]);
    expect(scoresOf(new QueueScorer(), [endpoint('a:1'), endpoint('b:1')])).toEqual([1, 1]);
  });
  it('scores an endpoint without metrics 0 and normalises over the others', () => {
    const eps = [endpoint('a:1', null), endpoint('b:1', { waitingQueue: 2 }), endpoint('c:1', { waitingQueue: 4 })];
    expect(scoresOf(new QueueScorer(), eps)).toEqual([0, 1, 0]);
  });
});

describe('load-aware scorer (llm-d load-aware-scorer)', () => {
  it('scores an empty queue 0.5, falling linearly to 0 at the threshold and staying there beyond it', () => {
    const eps = [0, 32, 64, 128, 500].map((w, i) => endpoint(`e${i}:1`, { waitingQueue: w }));
    expect(scoresOf(new LoadAwareScorer(), eps)).toEqual([0.5, 0.375, 0.25, 0, 0]);
    expect(scoresOf(new LoadAwareScorer({ threshold: 4 }), eps.slice(0, 2))).toEqual([0.5, 0]);
  });
  it('scores against the threshold, not the other candidates: equal queues keep their score, and no metrics is 0', () => {
    const eps = [endpoint('a:1', { waitingQueue: 10 }), endpoint('b:1', { waitingQueue: 10 }), endpoint('c:1', null)];
    expect(scoresOf(new LoadAwareScorer({ threshold: 20 }), eps)).toEqual([0.25, 0.25, 0]);
  });
});

describe('running-requests scorer', () => {
  it('is min-max over running requests', () => {
    const eps = [endpoint('a:1', { runningRequests: 8 }), endpoint('b:1', { runningRequests: 2 }), endpoint('c:1', { runningRequests: 4 })];
    expect(scoresOf(new RunningRequestsScorer(), eps)).toEqual([0, 1, 4 / 6]);
  });
});

describe('KV-cache scorer', () => {
  it('is 1 - usage, and 0 without metrics', () => {
    const eps = [endpoint('a:1', { kvCacheUsage: 0.2 }), endpoint('b:1', { kvCacheUsage: 1 }), endpoint('c:1', null)];
    expect(scoresOf(new KvCacheScorer(), eps)).toEqual([0.8, 0, 0]);
  });
});

describe('LoRA affinity scorer (Go lora_affinity_test table)', () => {
  const ctx = context({ model: 'base', targetModel: 'active-model-1' });
  it('scores loaded 1, room 0.8 (even when waiting), waiting without room 0.6, full 0', () => {
    const eps = [
      endpoint('p1:1', { loraRunning: ['active-model-1'], maxLora: 5 }),
      endpoint('p2:1', { loraRunning: ['active-model-2'], loraWaiting: ['active-model-1'], maxLora: 5 }),
      endpoint('p3:1', { loraRunning: ['active-model-2'], maxLora: 2 }),
      endpoint('p4:1', { loraRunning: ['active-model-3'], loraWaiting: ['active-model-1'], maxLora: 2 }),
      endpoint('p5:1', { loraRunning: ['active-model-4', 'active-model-5'], maxLora: 2 }),
    ];
    expect(scoresOf(new LoraAffinityScorer(), eps, ctx)).toEqual([1, 0.8, 0.8, 0.6, 0]);
  });
  it('scores nothing while no candidate runs or waits for any adapter, even with free adapter slots', () => {
    const eps = [endpoint('p1:1', { maxLora: 4 }), endpoint('p2:1', { maxLora: 2 }), endpoint('p3:1', { maxLora: 0 })];
    expect(scoresOf(new LoraAffinityScorer(), eps, ctx)).toEqual([0, 0, 0]);
  });
  it('scores 0 when there is no space, or LoRA is not reported', () => {
    const eps = [
      endpoint('p1:1', { loraRunning: ['active-model-2'], loraWaiting: ['active-model-3'], maxLora: 2 }),
      endpoint('p2:1', { maxLora: 0 }),
    ];
    expect(scoresOf(new LoraAffinityScorer(), eps, ctx)).toEqual([0, 0]);
  });
});

describe('prefix-cache scorer', () => {
  // A block key as the hasher makes it: the block's index in the high part, its chained hash in the low 32 bits.
  const key = (block: number): number => block * 2 ** 32 + 1000 + block;

  it('is matched leading blocks / total blocks', () => {
    const index = new PrefixIndex();
    index.record([0, 1, 2].map(key), 'a:1');
    index.record([key(0)], 'b:1');
    const ctx = context({ prefixHashes: [0, 1, 2, 3].map(key) }, undefined, index);
    expect(scoresOf(new PrefixCacheScorer(), [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')], ctx)).toEqual([0.75, 0.25, 0]);
  });
  it('counts blocks, not keys, when the keys skip blocks past the dense head', () => {
    // Keys of blocks 0 and 1 (dense), 7 (every 8th) and 9 (the last of 10).
    const index = new PrefixIndex();
    index.record([0, 1, 7].map(key), 'a:1');
    index.record([key(0)], 'b:1');
    const ctx = context({ prefixHashes: [0, 1, 7, 9].map(key) }, undefined, index);
    expect(scoresOf(new PrefixCacheScorer(), [endpoint('a:1'), endpoint('b:1')], ctx)).toEqual([0.8, 0.1]);
  });
  it('is 0 for everyone when the prompt has no full block', () => {
    expect(scoresOf(new PrefixCacheScorer(), [endpoint('a:1')], context({ prefixHashes: [] }))).toEqual([0]);
    expect(scoresOf(new PrefixCacheScorer(), [endpoint('a:1')], context({}))).toEqual([0]);
  });
});

describe('token-load scorer', () => {
  it('is min-max over in-flight tokens', () => {
    const inflight = new FakeInflight();
    inflight.set('a:1', { tokens: 1000 });
    inflight.set('b:1', { tokens: 250 });
    const eps = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
    expect(scoresOf(new TokenLoadScorer(), eps, context({}, inflight))).toEqual([0, 0.75, 1]);
  });
});

describe('in-flight load scorer', () => {
  it('is min-max over waiting queue + requests dispatched since the scrape', () => {
    const inflight = new FakeInflight();
    inflight.set('a:1', { requestsSinceScrape: 3 });
    const eps = [endpoint('a:1', { waitingQueue: 1 }), endpoint('b:1', { waitingQueue: 2 }), endpoint('c:1', { waitingQueue: 0 })];
    expect(scoresOf(new InflightLoadScorer(), eps, context({}, inflight))).toEqual([0, 0.5, 1]);
  });
});
