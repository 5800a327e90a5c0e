// In-flight eviction: the index of dispatched requests flow control may take back, the victim rule, and the
// pacing that keeps evictions from thrashing. The controller decides; the request's front end carries the
// eviction out through its EvictionTarget (flow control itself does no I/O).
import { IndexedHeap } from '../core/index.js';
import { type EvictionTarget } from './types.js';

/** Requests with a priority below this may be evicted in flight: sheddable work only. */
export const DEFAULT_EVICT_BELOW_PRIORITY = 0;
/** Token bucket: evictions per second, sustained. */
export const DEFAULT_EVICTIONS_PER_SECOND = 100;
/** Token bucket: evictions that may be issued at once after a quiet spell. */
export const DEFAULT_EVICTION_BURST = 20;
/** Evictions that landed without letting any blocked request dispatch, before eviction pauses. */
export const DEFAULT_MAX_UNPRODUCTIVE_EVICTIONS = 8;
/** How long eviction pauses after that many unproductive ones. */
export const DEFAULT_UNPRODUCTIVE_PAUSE_MS = 1_000;

export interface InflightEvictionOptions {
  /** @default true */
  readonly enabled?: boolean;
  /**
   * Dispatched requests whose priority is below this are evictable. The default keeps every priority >= 0 safe:
   * only sheddable (negative-priority) work is ever taken back. @default 0
   */
  readonly belowPriority?: number;
  /** Sustained rate limit. @default 100 per second */
  readonly maxPerSecond?: number;
  /** Evictions allowed at once. @default 20 */
  readonly burst?: number;
  /** Landed evictions without any blocked request dispatching, before eviction pauses. @default 8 */
  readonly maxUnproductive?: number;
  /** The pause, ms. @default 1000 */
  readonly unproductivePauseMs?: number;
}

export interface ResolvedEvictionOptions {
  readonly enabled: boolean;
  readonly belowPriority: number;
  readonly maxPerSecond: number;
  readonly burst: number;
  readonly maxUnproductive: number;
  readonly unproductivePauseMs: number;
}

/** One evictable dispatched request. Its key only moves towards "less preferred" (progress only grows). */
export class EvictionEntry {
  heapIndex = -1;
  /** Output tokens produced so far, as the front end reports them (0 when it cannot see them). */
  progress = 0;
  /** Accepted by its target and not yet released: counted against the blocked demand. */
  outstanding = false;

  constructor(
    readonly owner: InflightEvictionIndex,
    readonly target: EvictionTarget,
    readonly priority: number,
    readonly fairnessId: string,
    /** Estimated tokens of the whole request (prompt + expected output). */
    readonly estimatedCost: number,
    readonly dispatchedAt: number,
    /** Dispatch order: the last tie-break, so the order is total and deterministic. */
    readonly seq: number,
  ) {}

  /** Still in the index: not yet chosen as a victim, not yet released. */
  get indexed(): boolean {
    return this.heapIndex >= 0;
  }

  /** Estimated tokens still to produce: what evicting the request saves. */
  get remaining(): number {
    return Math.max(0, this.estimatedCost - this.progress);
  }
}

/**
 * The victim rule, within one priority (the lower priority always goes first, across heaps):
 * least progress (fewest output tokens produced, so the least work is thrown away), then most remaining
 * estimated tokens (the request that would hold its KV cache and batch slot longest), then the newest dispatch
 * (the least invested), then the higher dispatch sequence number.
 */
export function evictsBefore(a: EvictionEntry, b: EvictionEntry): boolean {
  if (a.progress !== b.progress) return a.progress < b.progress;
  const ra = a.remaining;
  const rb = b.remaining;
  if (ra !== rb) return ra > rb;
  if (a.dispatchedAt !== b.dispatchedAt) return a.dispatchedAt > b.dispatchedAt;
  return a.seq > b.seq;
}

const SLOT = {
  get: (e: EvictionEntry): number => e.heapIndex,
  set: (e: EvictionEntry, i: number): void => {
    e.heapIndex = i;
  },
};

interface PriorityHeap {
  readonly priority: number;
  readonly heap: IndexedHeap<EvictionEntry>;
}

/**
 * Complexity: track, untrack and progress updates O(log n) in the evictable requests of that priority (plus
 * O(p) to insert a heap for a priority not yet seen, p = distinct evictable priorities, few); picking a victim
 * O(p). Only requests below `belowPriority` are ever indexed.
 */
export class InflightEvictionIndex {
  /** Heaps by priority, lowest priority first; a heap is dropped when it empties. */
  private heaps: PriorityHeap[] = [];
  private seq = 0;
  private tracked = 0;
  private outstandingCount = 0;
  private tokens: number;
  private refilledAt: number;
  private unproductive = 0;
  private pausedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private settings: ResolvedEvictionOptions,
    now: number,
  ) {
    this.tokens = settings.burst;
    this.refilledAt = now;
  }

  get options(): ResolvedEvictionOptions {
    return this.settings;
  }

  /**
   * Live reconfiguration. Requests already indexed stay indexed (a lowered bound or `enabled: false` stops only
   * new ones from being indexed and, with `enabled: false`, any from being chosen); the bucket keeps its tokens,
   * capped at the new burst.
   */
  reconfigure(settings: ResolvedEvictionOptions): void {
    this.settings = settings;
    this.tokens = Math.min(this.tokens, settings.burst);
  }

  /** Evictable requests in flight (not yet chosen). */
  get size(): number {
    return this.tracked;
  }

  /** Evictions accepted by their front end whose request has not yet let go of its lease. */
  get outstanding(): number {
    return this.outstandingCount;
  }

  /** Whether a dispatched request of `priority` is indexed at all. */
  covers(priority: number): boolean {
    return this.options.enabled && priority < this.options.belowPriority;
  }

  track(target: EvictionTarget, priority: number, fairnessId: string, estimatedCost: number, now: number): EvictionEntry {
    const entry = new EvictionEntry(this, target, priority, fairnessId, estimatedCost, now, this.seq++);
    this.heapFor(priority).push(entry);
    this.tracked++;
    return entry;
  }

  /** The request's lease ended (response over, or the eviction landed). Idempotent. */
  untrack(entry: EvictionEntry): void {
    if (entry.outstanding) {
      entry.outstanding = false;
      this.outstandingCount--;
    }
    this.removeFromHeap(entry);
  }

  progress(entry: EvictionEntry, outputTokens: number): void {
    if (!(outputTokens > entry.progress)) return;
    entry.progress = outputTokens;
    this.find(entry.priority)?.heap.update(entry);
  }

  /** The next victim below `limitPriority` by the rule (lowest priority first), without taking it. */
  peekVictim(limitPriority: number): EvictionEntry | undefined {
    if (!this.settings.enabled) return undefined;
    const lowest = this.heaps[0];
    if (lowest === undefined || lowest.priority >= limitPriority) return undefined;
    return lowest.heap.peek();
  }

  /**
   * Takes `entry` out of the index for an eviction attempt and counts it outstanding until its lease is released
   * (`untrack`), or until `abandonAttempt` when its front end declines.
   */
  beginAttempt(entry: EvictionEntry): void {
    this.removeFromHeap(entry);
    entry.outstanding = true;
    this.outstandingCount++;
  }

  /** The front end declined: nothing was evicted. Idempotent (the lease may have been released meanwhile). */
  abandonAttempt(entry: EvictionEntry): void {
    if (!entry.outstanding) return;
    entry.outstanding = false;
    this.outstandingCount--;
  }

  /**
   * Whether one more eviction may be issued now (token bucket, and no pause after unproductive evictions);
   * takes the token when it may.
   */
  tryTake(now: number): boolean {
    if (now < this.pausedUntil) return false;
    const o = this.options;
    this.tokens = Math.min(o.burst, this.tokens + ((now - this.refilledAt) / 1000) * o.maxPerSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives back the token of an attempt the front end declined (nothing was evicted). */
  refund(): void {
    this.tokens = Math.min(this.options.burst, this.tokens + 1);
  }

  /**
   * An evicted request let go of its capacity. Until blocked work dispatches (`madeProgress`), each landing counts
   * as unproductive; after `maxUnproductive` of them eviction pauses, so a gate that stays shut for other reasons
   * (stale metrics, a capacity the evictions cannot free) does not take every sheddable request down with it.
   */
  landed(now: number): void {
    if (++this.unproductive >= this.options.maxUnproductive) {
      this.unproductive = 0;
      this.pausedUntil = now + this.options.unproductivePauseMs;
    }
  }

  /** Blocked work dispatched: the evictions so far were worth it. */
  madeProgress(): void {
    this.unproductive = 0;
  }

  clear(): void {
    for (const { heap } of this.heaps) heap.clear();
    this.heaps = [];
    this.tracked = 0;
    this.outstandingCount = 0;
  }

  private removeFromHeap(entry: EvictionEntry): void {
    const h = this.find(entry.priority);
    if (h === undefined || !h.heap.remove(entry)) return;
    this.tracked--;
    if (h.heap.size === 0) this.heaps = this.heaps.filter((x) => x !== h);
  }

  private find(priority: number): PriorityHeap | undefined {
    for (const h of this.heaps) if (h.priority === priority) return h;
    return undefined;
  }

  private heapFor(priority: number): IndexedHeap<EvictionEntry> {
    const existing = this.find(priority);
    if (existing !== undefined) return existing.heap;
    const created: PriorityHeap = { priority, heap: new IndexedHeap(evictsBefore, SLOT) };
    this.heaps = [...this.heaps, created].sort((a, b) => a.priority - b.priority);
    return created.heap;
  }
}
