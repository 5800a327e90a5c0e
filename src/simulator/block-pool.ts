// KV block pool with reference counts and a prefix cache of chained block hashes (full blocks only).
import { InvalidArgumentError, requireIntegerInRange } from '../core/index.js';

/** How the pool's blocks divide up at one moment; `free + cached + used === total` always. */
export interface BlockAccounting {
  readonly total: number;
  /** Blocks holding nothing reusable. */
  readonly free: number;
  /** Unreferenced blocks that still hold a cached prefix: reusable by a hit, evictable on demand. */
  readonly cached: number;
  /** Blocks referenced by at least one request. */
  readonly used: number;
  /** Sum of all reference counts (a block shared by two requests counts twice). */
  readonly references: number;
}

const NO_HASH = -1;

/**
 * Every operation is O(1) per block: the free list is a stack, the unreferenced cached blocks sit in an
 * insertion-ordered Map used as an LRU (delete + set moves to the back; the first key is the oldest), and hashes
 * map to block ids in a Map. Hashes are non-negative integers (see block-hash.ts), so -1 marks "no hash".
 */
export class BlockPool {
  readonly total: number;
  private readonly refCount: Int32Array;
  private readonly hashOf: Float64Array;
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private readonly lru = new Map<number, true>();
  private readonly byHash = new Map<number, number>();
  private usedCount = 0;
  private referenceCount = 0;

  constructor(numBlocks: number) {
    this.total = requireIntegerInRange('numBlocks', numBlocks, 1, 1 << 24);
    this.refCount = new Int32Array(numBlocks);
    this.hashOf = new Float64Array(numBlocks).fill(NO_HASH);
    this.freeStack = new Int32Array(numBlocks);
    // Low ids on top so allocation order is easy to read in traces.
    for (let i = 0; i < numBlocks; i++) this.freeStack[i] = numBlocks - 1 - i;
    this.freeTop = numBlocks;
  }

  /** Blocks a new allocation can take: truly free plus evictable cached ones. */
  get available(): number {
    return this.freeTop + this.lru.size;
  }

  get used(): number {
    return this.usedCount;
  }

  /** vLLM's `kv_cache_usage_perc`: referenced blocks over all blocks (cached-but-free blocks count as free). */
  usage(): number {
    return this.usedCount / this.total;
  }

  accounting(): BlockAccounting {
    return {
      total: this.total,
      free: this.freeTop,
      cached: this.lru.size,
      used: this.usedCount,
      references: this.referenceCount,
    };
  }

  /** Longest cached prefix of `hashes`, at most `maxBlocks` long. Does not change the pool. O(prefix length). */
  lookup(hashes: readonly number[], maxBlocks: number): number[] {
    const hits: number[] = [];
    const limit = Math.min(hashes.length, maxBlocks);
    for (let i = 0; i < limit; i++) {
      const block = this.byHash.get(hashes[i] ?? NO_HASH);
      if (block === undefined) break;
      hits.push(block);
    }
    return hits;
  }

  /** Whether `count` new blocks can be allocated after taking references on the cache hits `hits`. */
  canAllocate(count: number, hits: readonly number[] = []): boolean {
    let evictableHits = 0;
    for (const b of hits) if (this.refCount[b] === 0) evictableHits++;
    return this.available - evictableHits >= count;
  }

  /** Takes a reference on each cached block (a prefix-cache hit). */
  acquire(blocks: readonly number[]): void {
    for (const b of blocks) {
      const rc = this.refCount[b] ?? 0;
      if (rc === 0) {
        this.lru.delete(b);
        this.usedCount++;
      }
      this.refCount[b] = rc + 1;
      this.referenceCount++;
    }
  }

  /** One block with a reference count of 1, evicting the least recently used cached block if needed. */
  allocate(): number | undefined {
    let block: number;
    if (this.freeTop > 0) {
      block = this.freeStack[--this.freeTop] ?? 0;
    } else {
      const oldest = this.lru.keys().next();
      if (oldest.done === true) return undefined;
      block = oldest.value;
      this.lru.delete(block);
      this.byHash.delete(this.hashOf[block] ?? NO_HASH);
      this.hashOf[block] = NO_HASH;
    }
    this.refCount[block] = 1;
    this.usedCount++;
    this.referenceCount++;
    return block;
  }

  /**
   * Drops one reference on each block, last block first (as vLLM does) so that a prompt's tail is evicted
   * before its head, which other requests are more likely to share.
   */
  release(blocks: readonly number[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) {
      const b = blocks[i] ?? 0;
      const rc = this.refCount[b] ?? 0;
      if (rc <= 0) throw new InvalidArgumentError('block', b, 'a referenced block');
      this.refCount[b] = rc - 1;
      this.referenceCount--;
      if (rc === 1) {
        this.usedCount--;
        if (this.hashOf[b] === NO_HASH) this.freeStack[this.freeTop++] = b;
        else this.lru.set(b, true);
      }
    }
  }

  /**
   * Records that a referenced, now full block holds the content named by `hash`. A second block with the same
   * content stays uncached (the first one keeps the hash), as in vLLM.
   */
  register(block: number, hash: number): void {
    if (this.byHash.has(hash) || this.hashOf[block] !== NO_HASH) return;
    this.byHash.set(hash, block);
    this.hashOf[block] = hash;
  }

  /** Drops every unreferenced cached block (vLLM's reset_prefix_cache). */
  resetPrefixCache(): void {
    for (const b of this.lru.keys()) {
      this.byHash.delete(this.hashOf[b] ?? NO_HASH);
      this.hashOf[b] = NO_HASH;
      this.freeStack[this.freeTop++] = b;
    }
    this.lru.clear();
  }
}
