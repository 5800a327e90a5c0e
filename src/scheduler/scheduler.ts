// The scheduler: subset hint, then the profile, over one pool snapshot; also feeds the prefix index.
import { type Random, mathRandom, requireIntegerInRange } from '../core/index.js';
import {
  type EndpointSaturationView,
  type EndpointMetrics,
  type EndpointSnapshot,
  type InflightView,
  type PoolSnapshot,
  type ServedModelsView,
} from '../datalayer/index.js';
import { applySubsetHint } from './filters/subset-hint.js';
import { type ModelCandidates, modelCandidates } from './model-candidates.js';
import { PrefixIndex } from './prefix/prefix-index.js';
import { type SchedulerProfile } from './profile.js';
import { createDefaultProfile } from './profile-config.js';
import { type ScheduleRequest, type ScheduleResult, type SchedulingContext } from './types.js';

/** The token block our prefix blocks stand for (64 bytes at ~4 bytes per token). */
const TOKENS_PER_PREFIX_BLOCK = 16;
/** Fallbacks beyond this are never useful to a proxy and would only cost sorting time. */
export const MAX_ENDPOINT_COUNT = 16;

/** What recording a routing left in the prefix index, so it can be taken back (see forgetRouting). */
export interface RoutingRecord {
  /** Leading blocks the endpoint held before. */
  readonly held: number;
  /** The prefix index's record; 0 when nothing was recorded. */
  readonly seq: number;
}

export interface SchedulerOptions {
  /** @default createDefaultProfile() */
  readonly profile?: SchedulerProfile;
  /** Tie-breaks and random pickers. @default mathRandom */
  readonly random?: Random;
  /** Shared prefix index; pass one to inspect it or share it. @default new PrefixIndex() */
  readonly prefixIndex?: PrefixIndex;
  /** The saturation detector's per-endpoint view, for headroom filters (see SchedulingContext). */
  readonly saturation?: EndpointSaturationView;
  /**
   * What each endpoint serves (its `/v1/models` listing): only endpoints serving the request's target model are
   * candidates. @default none known (every endpoint may serve every model)
   */
  readonly models?: ServedModelsView;
}

/**
 * Synchronous and allocation-light: it runs inside the flow controller's dispatch callback. A call is
 * O(pool) for the subset hint and the served-model check, plus O(profile) (see {@link SchedulerProfile.run}); the prefix scorer adds
 * O(candidates x log matched blocks). With the default profile one pick is O(n) with one detector evaluation
 * (the headroom filter reads it once per candidate list): about 70 us of CPU at 1,000 endpoints, 9 us at 100
 * (bench/scheduler/pool-scale.ts, a loaded host).
 */
export class Scheduler {
  private currentProfile: SchedulerProfile;
  readonly prefixIndex: PrefixIndex;
  private readonly random: Random;
  private readonly saturation: EndpointSaturationView | undefined;
  private readonly models: ServedModelsView | undefined;
  private lastPoolVersion = Number.NaN;

  constructor(options: SchedulerOptions = {}) {
    this.currentProfile = options.profile ?? createDefaultProfile();
    this.random = options.random ?? mathRandom;
    this.prefixIndex = options.prefixIndex ?? new PrefixIndex();
    this.saturation = options.saturation;
    this.models = options.models;
  }

  /**
   * Whether any endpoint of `pool` serves `model` (see {@link modelCandidates}); the pipeline asks on arrival so
   * a model nobody serves is answered at once instead of after a wait in the queue. O(pool).
   */
  modelAvailability(model: string, pool: PoolSnapshot): ModelCandidates['kind'] {
    if (this.models === undefined || model === '') return 'served';
    return modelCandidates(pool.endpoints, model, this.models).kind;
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

  /** The response header (name, token) naming `endpointId`, while the profile has a session-affinity scorer. */
  sessionResponseHeader(endpointId: string): readonly [string, string] | undefined {
    const header = this.currentProfile.sessionHeader;
    const token = header === undefined ? undefined : this.currentProfile.sessionToken(endpointId);
    return header === undefined || token === undefined ? undefined : [header, token];
  }

  schedule(request: ScheduleRequest, pool: PoolSnapshot, inflight: InflightView): ScheduleResult {
    const count = requireIntegerInRange('endpointCount', request.endpointCount ?? 1, 1, MAX_ENDPOINT_COUNT);
    this.forgetDepartedEndpoints(pool);
    if (pool.endpoints.length === 0) {
      return { kind: 'unschedulable', reason: 'no-endpoints', message: 'the pool has no endpoints' };
    }
    const hinted = applySubsetHint(pool.endpoints, request.subsetHint);
    if (hinted.length === 0) {
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
    const model = request.targetModel ?? request.model;
    let candidates = hinted;
    if (this.models !== undefined && model !== '') {
      const found = modelCandidates(hinted, model, this.models);
      if (found.kind === 'not-found' && request.subsetHint !== undefined) {
        // The pool may serve it outside the hint: the hint is what left nothing, as for an empty subset.
        return { kind: 'unschedulable', reason: 'empty-subset', message: `no endpoint in the subset hint serves the model \`${model}\`` };
      }
      if (found.kind === 'not-found') {
        return { kind: 'unschedulable', reason: 'model-not-found', message: `no endpoint of the pool serves the model \`${model}\`` };
      }
      if (found.kind === 'down') {
        return {
          kind: 'unschedulable',
          reason: 'model-unavailable',
          message: `every endpoint serving the model \`${model}\` (${found.serving}) is down`,
        };
      }
      candidates = found.endpoints;
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
   * Remembers that `endpoint` was sent (and will cache) this prompt's blocks; returns what {@link forgetRouting}
   * needs if the request ends up served elsewhere (how many leading blocks the endpoint held before, the record).
   * Call it with the endpoint actually used (the primary, or the fallback the proxy reports as served). O(blocks).
   */
  recordRouting(prefixHashes: ArrayLike<number>, endpoint: EndpointSnapshot): RoutingRecord {
    const held = this.prefixIndex.matchLength(prefixHashes, endpoint.id);
    const seq = this.prefixIndex.record(prefixHashes, endpoint.id, this.capacityOf(endpoint.metrics));
    return { held, seq };
  }

  /** Takes back what {@link recordRouting} added for `endpointId` beyond the blocks it held before. */
  forgetRouting(prefixHashes: ArrayLike<number>, endpointId: string, record: RoutingRecord): void {
    if (record.seq !== 0) this.prefixIndex.forget(prefixHashes, endpointId, record.held, record.seq);
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
