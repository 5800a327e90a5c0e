// A scheduling profile: filters, then weighted scorers, then a picker.
import { type Random } from '../core/index.js';
import { type EndpointSnapshot } from '../datalayer/index.js';
import { type Filter, type Picker, type Scorer, type SchedulingContext } from './types.js';

export interface WeightedScorer {
  readonly scorer: Scorer;
  readonly weight: number;
}

export type ProfileOutcome =
  | { readonly kind: 'picked'; readonly endpoints: EndpointSnapshot[]; readonly scores: number[] }
  | { readonly kind: 'filtered'; readonly filter: string };

/**
 * Runs the pipeline over one candidate list. Each raw score is clamped to [0, 1] (NaN counts 0) before it is
 * weighted, so one misbehaving scorer cannot outweigh the others. O(filters x n + scorers x n + picker).
 */
export class SchedulerProfile {
  /** The header a session-affinity scorer (weight > 0) issues its token in; undefined without one. */
  readonly sessionHeader: string | undefined;

  constructor(
    readonly filters: readonly Filter[],
    readonly scorers: readonly WeightedScorer[],
    readonly picker: Picker,
  ) {
    this.sessionHeader = scorers.find((s) => s.weight > 0 && s.scorer.sessionHeader !== undefined)?.scorer.sessionHeader;
  }

  run(ctx: SchedulingContext, input: readonly EndpointSnapshot[], count: number, random: Random): ProfileOutcome {
    let candidates = input;
    for (const f of this.filters) {
      const kept = f.filter(ctx, candidates);
      if (kept.length > 0) candidates = kept;
      else if (!f.failOpen) return { kind: 'filtered', filter: f.type };
    }
    const n = candidates.length;
    const totals = new Float64Array(n);
    const raw = new Float64Array(n);
    for (const { scorer, weight } of this.scorers) {
      if (weight === 0) continue;
      raw.fill(0);
      scorer.score(ctx, candidates, raw);
      for (let i = 0; i < n; i++) {
        const s = raw[i] as number;
        const clamped = s > 1 ? 1 : s > 0 ? s : 0; // also maps NaN to 0
        totals[i] = (totals[i] as number) + weight * clamped;
      }
    }
    const picked = this.picker.pick(totals, count, random);
    return {
      kind: 'picked',
      endpoints: picked.map((i) => candidates[i] as EndpointSnapshot),
      scores: picked.map((i) => totals[i] as number),
    };
  }
}
