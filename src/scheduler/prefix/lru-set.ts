// Bounded set of block keys with least-recently-used eviction: one endpoint's share of the prefix index.

/**
 * A JavaScript Map keeps insertion order, so "touch" is delete + re-insert and the eldest key is the first one.
 * O(1) amortised per add, has and eviction; memory O(capacity).
 */
export class LruSet {
  private readonly keys = new Map<number, true>();

  constructor(private cap: number) {}

  get size(): number {
    return this.keys.size;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Changes the bound; a smaller one takes effect on the next {@link add}. */
  resize(capacity: number): void {
    this.cap = capacity;
  }

  has(key: number): boolean {
    return this.keys.has(key);
  }

  /** Inserts or refreshes `key` as the most recent, evicting the eldest keys beyond capacity. */
  add(key: number): void {
    if (!this.keys.delete(key)) {
      while (this.keys.size >= this.cap) {
        const eldest = this.keys.keys().next();
        if (eldest.done === true) break;
        this.keys.delete(eldest.value);
      }
    }
    this.keys.set(key, true);
  }
}
