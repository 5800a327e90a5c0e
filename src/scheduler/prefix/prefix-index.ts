// Approximate per-endpoint prefix cache: which prompt blocks each endpoint has probably cached.
import { requireIntegerInRange } from '../../core/index.js';
import { BlockTable } from './block-table.js';
import { keyBlockIndex } from './prefix-hasher.js';

/** vLLM's block count for an 8B model on an 80 GB GPU (~500k tokens / 16 per block); the Go reference's default. */
export const DEFAULT_LRU_CAPACITY_PER_ENDPOINT = 31_250;

/**
 * Blocks the first `n` keys stand for: keys are `blockIndex * 2^32 + hash` (see PrefixHasher), so the n-th key's
 * index + 1, whether the keys name every block or skip some. O(1).
 */
export function keyBlocks(keys: ArrayLike<number>, n: number): number {
  return n <= 0 ? 0 : keyBlockIndex(keys[n - 1] as number) + 1;
}

export interface PrefixIndexOptions {
  /** Blocks remembered per endpoint when it reports no cache geometry. @default DEFAULT_LRU_CAPACITY_PER_ENDPOINT */
  readonly defaultCapacity?: number;
}

/**
 * One {@link BlockTable} of block keys per endpoint, forgetting the oldest requests first.
 *
 * What an endpoint holds of any chain is a prefix of it (see BlockTable), which makes the longest match a
 * galloping binary search: O(log m) lookups per endpoint (m = matched blocks) instead of a walk over every
 * block. `record` is O(n) for n blocks: one typed-array probe each, no allocation per block.
 */
export class PrefixIndex {
  private readonly endpoints = new Map<string, BlockTable>();
  readonly defaultCapacity: number;

  constructor(options: PrefixIndexOptions = {}) {
    this.defaultCapacity = requireIntegerInRange(
      'defaultCapacity',
      options.defaultCapacity ?? DEFAULT_LRU_CAPACITY_PER_ENDPOINT,
      1,
      1 << 30,
    );
  }

  /**
   * Remembers that `endpointId` was sent (and will cache) these blocks; returns the record's sequence number for
   * {@link forget} (0 when nothing was recorded).
   */
  record(hashes: ArrayLike<number>, endpointId: string, capacity = this.defaultCapacity): number {
    if (hashes.length === 0) return 0;
    let set = this.endpoints.get(endpointId);
    if (set === undefined) {
      set = new BlockTable(capacity);
      this.endpoints.set(endpointId, set);
    } else if (set.capacity !== capacity) {
      set.resize(capacity);
    }
    return set.add(hashes);
  }

  /**
   * Takes back blocks `from..` of record `seq` for `endpointId` when the request went elsewhere after all (the
   * blocks before `from` were held already and stay). O(hashes.length - from).
   */
  forget(hashes: ArrayLike<number>, endpointId: string, from: number, seq: number): void {
    this.endpoints.get(endpointId)?.withdraw(hashes, from, seq);
  }

  /** Number of leading keys of `hashes` that `endpointId` holds ({@link keyBlocks} turns it into blocks). */
  matchLength(hashes: ArrayLike<number>, endpointId: string): number {
    const set = this.endpoints.get(endpointId);
    const n = hashes.length;
    if (set === undefined || n === 0 || !set.has(hashes[0] as number)) return 0;
    // Gallop: find a missing block at 2^k - 1, then binary-search between the last hit and it.
    let lo = 0; // known present
    let step = 1;
    let hi = n; // first index known (or assumed) absent
    while (lo + step < n) {
      if (set.has(hashes[lo + step] as number)) {
        lo += step;
        step *= 2;
      } else {
        hi = lo + step;
        break;
      }
    }
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (set.has(hashes[mid] as number)) lo = mid;
      else hi = mid;
    }
    return lo + 1;
  }

  /** Whether `endpointId` holds the block `key`. O(1) expected. */
  holds(key: number, endpointId: string): boolean {
    return this.endpoints.get(endpointId)?.has(key) ?? false;
  }

  /** Blocks held for `endpointId` (0 when unknown). */
  size(endpointId: string): number {
    return this.endpoints.get(endpointId)?.size ?? 0;
  }

  /** Capacity in blocks for `endpointId`, or undefined when nothing was recorded for it. */
  capacity(endpointId: string): number | undefined {
    return this.endpoints.get(endpointId)?.capacity;
  }

  /** Forgets endpoints that left the pool. O(indexed endpoints). */
  retainOnly(isLive: (endpointId: string) => boolean): void {
    for (const id of [...this.endpoints.keys()]) if (!isLive(id)) this.endpoints.delete(id);
  }

  endpointIds(): string[] {
    return [...this.endpoints.keys()];
  }
}
