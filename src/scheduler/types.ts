// Scheduler vocabulary: the request it is asked to place, the result it returns, and the plug-in contracts.
import { type Random } from '../core/index.js';
import { type EndpointSaturationView, type EndpointSnapshot, type InflightView, type PoolSnapshot } from '../datalayer/index.js';
import { type PrefixIndex } from './prefix/prefix-index.js';

/** What the scheduler needs to know about one request; everything is computed before dispatch. */
export interface ScheduleRequest {
  /** Model name as requested (seeds the prefix hashes). */
  readonly model: string;
  /** The model or LoRA adapter the request will be served as after any rewrite; defaults to `model`. */
  readonly targetModel?: string;
  /** Chained prefix block hashes from {@link PrefixHasher}; empty when the prompt is shorter than one block. */
  readonly prefixHashes?: ArrayLike<number>;
  /** Estimated tokens (prompt + expected output); informational for scorers that weigh size. */
  readonly estimatedTokens?: number;
  /** The proxy's subset hint: pick only among these endpoint ids. `undefined` means no restriction. */
  readonly subsetHint?: readonly string[];
  /** Endpoints wanted: the primary plus fallbacks. @default 1 */
  readonly endpointCount?: number;
  /** Request headers (lower-cased names), for scorers that read one (session affinity). */
  readonly headers?: ReadonlyMap<string, string>;
  /**
   * Flow control paces prefill for this request (`Lease.pacePrefill`): the headroom filter prefers endpoints
   * below the paced bound (half a step of unstarted prompts). @default false
   */
  readonly pacePrefill?: boolean;
}

/** `model-not-found` answers 404; the others mean "no serving capacity" (503). */
export type UnschedulableReason = 'no-endpoints' | 'empty-subset' | 'filtered' | 'model-not-found' | 'model-unavailable';

export type ScheduleResult =
  | {
      readonly kind: 'scheduled';
      /** Primary first, then fallbacks; never empty. */
      readonly endpoints: readonly EndpointSnapshot[];
      /** Weighted total score of each returned endpoint, aligned with `endpoints`. */
      readonly scores: readonly number[];
    }
  | {
      readonly kind: 'unschedulable';
      /** Stable label for metrics and the drop reason. */
      readonly reason: UnschedulableReason;
      readonly message: string;
    };

/** Per-request inputs shared by every plug-in in one scheduling cycle. */
export interface SchedulingContext {
  readonly request: ScheduleRequest;
  readonly pool: PoolSnapshot;
  readonly inflight: InflightView;
  readonly prefixIndex: PrefixIndex;
  /**
   * The saturation detector's per-endpoint view, when the scheduler was given one: filters that judge headroom
   * then agree exactly with the gate flow control uses (same thresholds, same caps, same open-loop counts).
   */
  readonly saturation?: EndpointSaturationView;
}

/** Removes candidates that must not serve the request. Stateless: all state comes from the context. */
export interface Filter {
  readonly type: string;
  /** When true and the filter would remove every candidate, the profile keeps them all (fail open). */
  readonly failOpen: boolean;
  filter(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[]): readonly EndpointSnapshot[];
}

/** How a session-affinity scorer has the response name the endpoint that served, for the client to send back. */
export interface ScorerSession {
  /** The header (lower case) carrying the token, in the response and in the client's next request. */
  readonly header: string;
  /** The token naming `endpointId`. */
  token(endpointId: string): string;
}

/** Writes one raw score per candidate into `out` (same index); the profile clamps each to [0, 1]. */
export interface Scorer {
  readonly type: string;
  /** A session-affinity scorer's port: both halves or neither, so the response always gets its header. */
  readonly session?: ScorerSession;
  score(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void;
  /**
   * Told which endpoint the profile picked first, in the same synchronous call that just scored `ctx`: for scorers
   * that learn from their own picks (no-hit-lru-scorer). Optional; most scorers keep no state.
   */
  picked?(ctx: SchedulingContext, endpoint: EndpointSnapshot): void;
}

/**
 * Chooses up to `count` distinct candidate indices, best first. `scores` are the weighted totals, in a buffer the
 * profile reuses for the next pick: read it during the call, keep nothing of it.
 */
export interface Picker {
  readonly type: string;
  pick(scores: Float64Array, count: number, random: Random): number[];
}
