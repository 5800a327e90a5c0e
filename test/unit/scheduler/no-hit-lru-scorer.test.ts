// llm-d's no-hit-lru-scorer in Fairway: cold requests (no candidate holds a prefix block of the prompt) go to the
// endpoints that took a cold request least recently, never-used ones first; warm requests are left to the prefix
// scorer (0.5 for all). The order is learnt from the scorer's own picks, through the profile.
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../src/core/index.js';
import {
  MaxScorePicker,
  NoHitLruScorer,
  PrefixCacheScorer,
  PrefixIndex,
  SchedulerProfile,
  type SchedulingContext,
} from '../../../src/scheduler/index.js';
import { context, endpoint, scoresOf } from './support.js';

const eps = ['a:1', 'b:1', 'c:1', 'd:1'].map((id) => endpoint(id));
/** The scores of four candidates at these ranks: 1 - rank / 3. */
const byRank = (...ranks: number[]): number[] => ranks.map((r) => 1 - r / 3);

/** Cold requests picked at `ids` in turn, each scored first as the profile would. */
function coldPicks(s: NoHitLruScorer, ids: readonly string[]): void {
  for (const id of ids) {
    const ctx = context();
    scoresOf(s, eps, ctx);
    s.picked(ctx, endpoint(id));
  }
}

describe('no-hit LRU scorer', () => {
  it('scores a cold request never-used first in candidate order, 1 down to 0 by rank', () => {
    expect(scoresOf(new NoHitLruScorer(), eps)).toEqual(byRank(0, 1, 2, 3));
    expect(scoresOf(new NoHitLruScorer(), [endpoint('a:1')])).toEqual([1]);
  });

  it('ranks endpoints that took cold requests after the never-used ones, least recent first', () => {
    const s = new NoHitLruScorer();
    coldPicks(s, ['c:1', 'a:1']);
    // Never used: b, d (candidate order); then c (cold pick 1), then a (cold pick 2, the most recent).
    expect(scoresOf(s, eps)).toEqual(byRank(3, 0, 2, 1));
  });

  it('scores a warm request 0.5 everywhere and does not learn from its pick', () => {
    const index = new PrefixIndex();
    index.record([7, 8], 'd:1');
    const s = new NoHitLruScorer();
    const warm = context({ prefixHashes: [7, 8, 9] }, undefined, index);
    expect(scoresOf(s, eps, warm)).toEqual([0.5, 0.5, 0.5, 0.5]);
    s.picked(warm, endpoint('a:1'));
    expect(scoresOf(s, eps)).toEqual(byRank(0, 1, 2, 3));
    // A prompt nobody holds a block of is cold, whatever the index holds for others.
    expect(scoresOf(s, eps, context({ prefixHashes: [1, 2] }, undefined, index))).toEqual(byRank(0, 1, 2, 3));
  });

  it('a pick reported for another scheduling call than the last cold one is ignored', () => {
    const s = new NoHitLruScorer();
    scoresOf(s, eps, context());
    s.picked(context(), endpoint('a:1'));
    expect(scoresOf(s, eps)).toEqual(byRank(0, 1, 2, 3));
  });

  it('remembers at most lruSize endpoints, forgetting the least recent', () => {
    const s = new NoHitLruScorer({ lruSize: 2 });
    coldPicks(s, ['a:1', 'b:1', 'c:1']);
    // a was forgotten: never used again (with d); then b, then c.
    expect(scoresOf(s, eps)).toEqual(byRank(0, 2, 3, 1));
  });

  it('in a profile, a run of cold requests visits every endpoint before any twice, and warm ones follow their prefix', () => {
    const index = new PrefixIndex();
    const profile = new SchedulerProfile(
      [],
      [
        { scorer: new PrefixCacheScorer(), weight: 3 },
        { scorer: new NoHitLruScorer(), weight: 2 },
      ],
      new MaxScorePicker(),
    );
    const pick = (ctx: SchedulingContext): string => {
      const out = profile.run(ctx, eps, 1, new SeededRandom(1));
      if (out.kind !== 'picked') throw new Error('filtered');
      return out.endpoints[0]!.id;
    };
    const cold = Array.from({ length: 8 }, () => pick(context({ prefixHashes: [] }, undefined, index)));
    expect(cold).toEqual(['a:1', 'b:1', 'c:1', 'd:1', 'a:1', 'b:1', 'c:1', 'd:1']);
    index.record([5, 6], 'c:1');
    expect(pick(context({ prefixHashes: [5, 6] }, undefined, index))).toBe('c:1');
    // The warm pick taught the LRU nothing: the next cold request still goes to a.
    expect(pick(context({ prefixHashes: [] }, undefined, index))).toBe('a:1');
  });

  it('learns from the primary only, not from the fallbacks listed after it', () => {
    const profile = new SchedulerProfile([], [{ scorer: new NoHitLruScorer(), weight: 1 }], new MaxScorePicker());
    const run = (count: number): string[] => {
      const out = profile.run(context(), eps, count, new SeededRandom(1));
      if (out.kind !== 'picked') throw new Error('filtered');
      return out.endpoints.map((e) => e.id);
    };
    expect(run(2)).toEqual(['a:1', 'b:1']);
    // b was only a fallback: still never used, so it leads the next cold request.
    expect(run(1)).toEqual(['b:1']);
    expect(run(1)).toEqual(['c:1']);
  });
});
