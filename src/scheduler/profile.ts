// A scheduling profile: filters, then weighted scorers, then a picker.
import { type Random } from '../core/index.js';
import { type EndpointSnapshot } from '../datalayer/index.js';
import { type Filter, type Picker, type Scorer, type ScorerSession, type SchedulingContext } from './types.js';

export interface WeightedScorer {
  readonly scorer: Scorer;
  readonly weight: number;
}

export type ProfileOutcome =
  | { readonly kind: 'picked'; readonly endpoints: EndpointSnapshot[]; readonly scores: number[] }
  | { readonly kind: 'filtered'; readonly filter: string };

/**
 * Runs the pipeline over one candidate list. Each raw score is clamped to [0, 1] (NaN counts 0) before it is
 * weighted, so one misbehaving scorer cannot outweigh the others. O(filters x n + scorers x n + picker), with no
 * allocation per candidate beyond what a filter keeps (scores go to buffers reused across picks).
 * Fallbacks (count > 1) beyond the endpoints that passed every filter are live endpoints a fail-open filter
 * removed, scored among themselves and listed after all the others.
 */
export class SchedulerProfile {
  /** The header a session-affinity scorer (weight > 0) issues its token in; undefined without one. */
  readonly sessionHeader: string | undefined;
  private readonly session: ScorerSession | undefined;
  /** Scorers (weight > 0) that want to hear of the pick; usually none. */
  private readonly learners: readonly Scorer[];

  constructor(
    readonly filters: readonly Filter[],
    readonly scorers: readonly WeightedScorer[],
    readonly picker: Picker,
  ) {
    this.session = scorers.find((s) => s.weight > 0 && s.scorer.session !== undefined)?.scorer.session;
    this.sessionHeader = this.session?.header;
    this.learners = scorers.filter((s) => s.weight > 0 && s.scorer.picked !== undefined).map((s) => s.scorer);
  }

  /** The token naming `endpointId` in `sessionHeader`, while the profile has a session-affinity scorer. */
  sessionToken(endpointId: string): string | undefined {
    return this.session?.token(endpointId);
  }

  run(ctx: SchedulingContext, input: readonly EndpointSnapshot[], count: number, random: Random): ProfileOutcome {
    let candidates = input;
    // Endpoints only a fail-open filter removed (no headroom, no LoRA room): with count > 1 they are the
    // fallbacks of last resort, see below. Kept only when fallbacks are asked for, so one pick costs nothing more.
    let spare: EndpointSnapshot[] = [];
    for (const f of this.filters) {
      const kept = f.filter(ctx, candidates);
      if (kept.length > 0) {
        if (count > 1 && f.failOpen && kept.length < candidates.length) {
          const keptSet = new Set(kept);
          for (const c of candidates) if (!keptSet.has(c)) spare.push(c);
        } else if (count > 1 && !f.failOpen && spare.length > 0) {
          spare = [...f.filter(ctx, spare)];
        }
        candidates = kept;
      } else if (!f.failOpen) return { kind: 'filtered', filter: f.type };
    }
    const picked = this.scoreAndPick(ctx, candidates, count, random);
    // Scorers that learn from their picks hear of the primary only (fallbacks serve only when it fails).
    const primary = picked.endpoints[0];
    if (primary !== undefined) for (const learner of this.learners) learner.picked?.(ctx, primary);
    if (picked.endpoints.length >= count || spare.length === 0) return picked;
    // Fewer candidates passed than endpoints were asked for: the rest of the list (tried only when connecting to
    // the ones before failed) is filled with live endpoints that are merely full, best first. A full pod queues
    // the request in its own waiting queue, which beats a 503 when the primary just died. Stale or never-scraped
    // endpoints are left out: nothing says they are there at all.
    const live = spare.filter((e) => !e.stale && e.metrics !== undefined);
    if (live.length === 0) return picked;
    const more = this.scoreAndPick(ctx, live, count - picked.endpoints.length, random);
    return { kind: 'picked', endpoints: [...picked.endpoints, ...more.endpoints], scores: [...picked.scores, ...more.scores] };
  }

  private scoreAndPick(
    ctx: SchedulingContext,
    candidates: readonly EndpointSnapshot[],
    count: number,
    random: Random,
  ): { kind: 'picked'; endpoints: EndpointSnapshot[]; scores: number[] } {
    const n = candidates.length;
    // Reused buffers, module-level and so shared by every profile in the process: safe because a pick runs to its
    // end synchronously, no scorer runs another pick, and pickers keep nothing (scores are copied out below). Two
    // arrays of n per pick were a tenth of a pick's time at 1,000 endpoints, in young-generation garbage.
    const totals = scratchTotals(n);
    totals.fill(0);
    const raw = scratchRaw(n);
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

let totalsBuffer = new Float64Array(256);
let rawBuffer = new Float64Array(256);
/** The weighted totals of one scoring pass: the first `n` of a buffer kept across picks (grown by doubling). */
function scratchTotals(n: number): Float64Array {
  if (totalsBuffer.length < n) totalsBuffer = new Float64Array(Math.max(n, 2 * totalsBuffer.length));
  return totalsBuffer.subarray(0, n);
}
/** One scorer's raw scores: as scratchTotals, a buffer of its own. */
function scratchRaw(n: number): Float64Array {
  if (rawBuffer.length < n) rawBuffer = new Float64Array(Math.max(n, 2 * rawBuffer.length));
  return rawBuffer.subarray(0, n);
}
