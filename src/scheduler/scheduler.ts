// The scheduler: subset hint, then the profile, over one pool snapshot; also feeds the prefix index.
import { type Random, mathRandom, requireIntegerInRange } from '../core/index.js';
import {
  type EndpointSaturationView,
  type EndpointMetrics,
  type EndpointSnapshot,
  type InflightView,
  type PoolSnapshot,
} from '../datalayer/index.js';
import { applySubsetHint } from './filters/subset-hint.js';
import { PrefixIndex } from './prefix/prefix-index.js';
import { type SchedulerProfile } from './profile.js';
import { createDefaultProfile } from './profile-config.js';
import { type ScheduleRequest, type ScheduleResult, type SchedulingContext } from './types.js';

/** The token block our prefix blocks stand for (64 bytes at ~4 bytes per token). */
const TOKENS_PER_PREFIX_BLOCK = 16;
/** Fallbacks beyond this are never useful to a proxy and would only cost sorting time. */
export const MAX_ENDPOINT_COUNT = 16;

export interface SchedulerOptions {
  /** @default createDefaultProfile() */
  readonly profile?: SchedulerProfile;
  /** Tie-breaks and random pickers. @default mathRandom */
  readonly random?: Random;
  /** Shared prefix index; pass one to inspect it or share it. @default new PrefixIndex() */
  readonly prefixIndex?: PrefixIndex;
  /** The saturation detector's per-endpoint view, for headroom filters (see SchedulingContext). */
  readonly saturation?: EndpointSaturationView;
}

/**
 * Synchronous and allocation-light: it runs inside the flow controller's dispatch callback. A call is
 * O(pool) for the subset hint, plus O(profile) (see {@link SchedulerProfile.run}); the prefix scorer adds
 * O(candidates x log matched blocks).
 */
export class Scheduler {
  private currentProfile: SchedulerProfile;
  readonly prefixIndex: PrefixIndex;
  private readonly random: Random;
  private readonly saturation: EndpointSaturationView | undefined;
  private lastPoolVersion = Number.NaN;

  constructor(options: SchedulerOptions = {}) {
    this.currentProfile = options.profile ?? createDefaultProfile();
    this.random = options.random ?? mathRandom;
    this.prefixIndex = options.prefixIndex ?? new PrefixIndex();
    this.saturation = options.saturation;
  }

  get profile(): SchedulerProfile {
    return this.currentProfile;
  }

  /**
   * Swaps the profile (a configuration reload: new scorer weights, filters, picker). Profiles hold no state, and
   * the prefix index belongs to the scheduler, so routing affinity survives the swap. The next pick uses it.
   */
  setProfile(profile: SchedulerProfile): void {
    this.currentProfile = profile;
  }

  schedule(request: ScheduleRequest, pool: PoolSnapshot, inflight: InflightView): ScheduleResult {
    const count = requireIntegerInRange('endpointCount', request.endpointCount ?? 1, 1, MAX_ENDPOINT_COUNT);
    this.forgetDepartedEndpoints(pool);
    if (pool.endpoints.length === 0) {
      return { kind: 'unschedulable', reason: 'no-endpoints', message: 'the pool has no endpoints' };
    }
    const candidates = applySubsetHint(pool.endpoints, request.subsetHint);
    if (candidates.length === 0) {
      const hint = request.subsetHint ?? [];
      return {
        kind: 'unschedulable',
        reason: 'empty-subset',
        message:
          hint.length === 0
            ? 'the subset hint is empty'
            : `no pool endpoint matches the subset hint (${hint.length} ids, first ${hint[0]})`,
      };
    }
    const ctx: SchedulingContext = { request, pool, inflight, prefixIndex: this.prefixIndex, saturation: this.saturation };
    const outcome = this.currentProfile.run(ctx, candidates, count, this.random);
    if (outcome.kind === 'filtered') {
      return {
        kind: 'unschedulable',
        reason: 'filtered',
        message: `filter ${outcome.filter} removed all ${candidates.length} candidates`,
      };
    }
    return { kind: 'scheduled', endpoints: outcome.endpoints, scores: outcome.scores };
  }

  /**
   * Records that a request with these prefix hashes was sent to `endpoint`, which will now cache them. Call it
   * with the endpoint actually used (the primary, or the fallback the proxy reports as served). O(blocks).
   */
  recordRouting(prefixHashes: ArrayLike<number>, endpoint: EndpointSnapshot): void {
    this.prefixIndex.record(prefixHashes, endpoint.id, this.capacityOf(endpoint.metrics));
  }

  /** Index capacity in our blocks: the server's KV blocks, rescaled when its blocks are not 16 tokens. */
  private capacityOf(metrics: EndpointMetrics | undefined): number {
    const blocks = metrics?.kvNumBlocks;
    if (blocks === undefined || !(blocks > 0)) return this.prefixIndex.defaultCapacity;
    const blockTokens = metrics?.kvBlockSize ?? TOKENS_PER_PREFIX_BLOCK;
    return Math.max(1, Math.round((blocks * (blockTokens > 0 ? blockTokens : TOKENS_PER_PREFIX_BLOCK)) / TOKENS_PER_PREFIX_BLOCK));
  }

  /** On a new pool version, drops index entries of endpoints no longer in the pool. O(pool + indexed). */
  private forgetDepartedEndpoints(pool: PoolSnapshot): void {
    if (pool.version === this.lastPoolVersion) return;
    this.lastPoolVersion = pool.version;
    const live = new Set<string>();
    for (const e of pool.endpoints) live.add(e.id);
    this.prefixIndex.retainOnly((id) => live.has(id));
  }
}
