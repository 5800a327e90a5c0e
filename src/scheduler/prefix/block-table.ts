// One endpoint's share of the prefix index: a compact hash table of block keys, forgotten a request at a time,
// oldest request first.

/** Slots start small (an endpoint that sees little traffic costs little) and double as live keys need. */
const INITIAL_SLOTS = 256;
/** Requests remembered at once: the ring of per-request counts starts small and doubles up to this. */
const MAX_REMEMBERED = 16_384;
const INITIAL_REMEMBERED = 64;
const TWO_POW_32 = 4294967296;
/** Owner of a withdrawn key: dead (below every watermark, which starts at 1), yet not 0, which ends a probe run. */
const WITHDRAWN = 0.5;

/**
 * Open addressing with linear probing over one Float64Array of (key, owner) pairs, where the owner is the
 * sequence number of the newest request that recorded the key (0: empty slot). Recording a request's n blocks
 * is n probes, no allocation. Requests are forgotten oldest first by raising a watermark: a key whose owner is
 * below it is dead (its slot is reused by the next insertion that passes it, and dropped when the table is
 * rebuilt), so forgetting a request is O(1) whatever its length; a ring of per-request counts of owned keys
 * keeps the live count exact. What the table holds stays prefix-closed: a request that recorded a block recorded
 * all its ancestors with it (keys chain from block 0), so an ancestor's owner is never older than a
 * descendant's and never dies first.
 *
 * Cost: `add` O(n) for n keys plus amortised O(1) rebuilds (dead keys make up at most half the slots before one);
 * `has` O(1) expected. Memory 16 bytes per slot, fewer than 6 slots per key of capacity, plus 4 bytes per
 * remembered request (at most 16,384); the requests' key arrays are not kept.
 */
export class BlockTable {
  private slots = new Float64Array(INITIAL_SLOTS * 2);
  private mask = INITIAL_SLOTS - 1;
  /** Slots holding a key, live or dead. */
  private occupied = 0;
  private live = 0;
  /** The newest request's sequence number; requests below `watermark` are forgotten. */
  private seq = 0;
  private watermark = 1;
  /** Keys each remembered request owns, at index seq & ringMask. */
  private owned = new Int32Array(INITIAL_REMEMBERED);
  private ringMask = INITIAL_REMEMBERED - 1;

  constructor(private cap: number) {}

  get size(): number {
    return this.live;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Changes the bound; a smaller one takes effect on the next {@link add}. */
  resize(capacity: number): void {
    this.cap = capacity;
  }

  has(key: number): boolean {
    const slots = this.slots;
    for (let s = this.slotOf(key); ; s = (s + 1) & this.mask) {
      const owner = slots[2 * s + 1] as number;
      if (owner === 0) return false;
      if (slots[2 * s] === key) return owner >= this.watermark;
    }
  }

  /**
   * Records the first `min(keys.length, capacity)` keys as one request, the newest; returns its sequence number
   * (0 when nothing was recorded), which {@link withdraw} takes.
   */
  add(keys: ArrayLike<number>): number {
    const count = Math.min(keys.length, this.cap);
    if (count === 0) return 0;
    this.makeRoomForRequest();
    const seq = ++this.seq;
    this.owned[seq & this.ringMask] = 0;
    for (let i = 0; i < count; i++) {
      this.put(keys[i] as number, seq);
      // Forgetting as the request goes keeps the live keys (and so the table) within the capacity.
      while (this.live > this.cap && this.watermark < seq) this.forgetOldest();
    }
    return seq;
  }

  /**
   * Takes back keys `from..` of request `seq` (the same keys it was given) wherever no newer request recorded them
   * since: the request was served elsewhere, so this endpoint never cached those blocks. The request stays
   * remembered for its first `from` keys (held before it). O(keys - from).
   */
  withdraw(keys: ArrayLike<number>, from: number, seq: number): void {
    if (seq < this.watermark) return; // forgotten already
    const count = Math.min(keys.length, this.cap);
    const slots = this.slots;
    for (let i = Math.max(0, from); i < count; i++) {
      const key = keys[i] as number;
      for (let s = this.slotOf(key); ; s = (s + 1) & this.mask) {
        const owner = slots[2 * s + 1] as number;
        if (owner === 0) break;
        if (slots[2 * s] === key) {
          if (owner === seq) {
            slots[2 * s + 1] = WITHDRAWN;
            this.count(seq, -1);
            this.live--;
          }
          break;
        }
      }
    }
  }

  private slotOf(key: number): number {
    // The low 32 bits are the chained hash; the high part (block index) is mixed in for keys of equal hashes.
    const low = key >>> 0;
    return (low ^ Math.imul((key - low) / TWO_POW_32, 0x9e3779b1)) & this.mask;
  }

  private put(key: number, seq: number): void {
    if ((this.occupied + 1) * 2 > this.mask + 1) this.rebuild();
    const slots = this.slots;
    let reusable = -1;
    for (let s = this.slotOf(key); ; s = (s + 1) & this.mask) {
      const owner = slots[2 * s + 1] as number;
      if (owner === 0) {
        if (reusable < 0) {
          reusable = s;
          this.occupied++;
        }
        break;
      }
      if (slots[2 * s] === key) {
        if (owner >= this.watermark) {
          // Live: the key moves to the newest request.
          if (owner !== seq) {
            this.count(owner, -1);
            this.count(seq, 1);
            slots[2 * s + 1] = seq;
          }
          return;
        }
        reusable = s; // its own dead slot
        break;
      }
      if (reusable < 0 && owner < this.watermark) reusable = s; // a dead key's slot; keep looking for this key
    }
    slots[2 * reusable] = key;
    slots[2 * reusable + 1] = seq;
    this.count(seq, 1);
    this.live++;
  }

  private count(seq: number, delta: number): void {
    const i = seq & this.ringMask;
    this.owned[i] = (this.owned[i] as number) + delta;
  }

  private forgetOldest(): void {
    this.live -= this.owned[this.watermark & this.ringMask] as number;
    this.watermark++;
  }

  /** Before a new request: the ring must have a free entry; it doubles, up to a bound past which the oldest go. */
  private makeRoomForRequest(): void {
    const remembered = this.seq + 1 - this.watermark;
    if (remembered < this.owned.length) return;
    if (this.owned.length >= MAX_REMEMBERED) {
      this.forgetOldest();
      return;
    }
    const owned = new Int32Array(this.owned.length * 2);
    const mask = owned.length - 1;
    for (let q = this.watermark; q <= this.seq; q++) owned[q & mask] = this.owned[q & this.ringMask] as number;
    this.owned = owned;
    this.ringMask = mask;
  }

  /** Rehashes the live keys, into twice the slots when they fill a third or more (else the same number). */
  private rebuild(): void {
    const old = this.slots;
    const oldSlots = this.mask + 1;
    const slotCount = (this.live + 1) * 3 > oldSlots ? oldSlots * 2 : oldSlots;
    this.slots = new Float64Array(slotCount * 2);
    this.mask = slotCount - 1;
    this.occupied = 0;
    const slots = this.slots;
    for (let i = 0; i < oldSlots; i++) {
      const owner = old[2 * i + 1] as number;
      if (owner < this.watermark) continue; // empty or dead
      const key = old[2 * i] as number;
      let s = this.slotOf(key);
      while (slots[2 * s + 1] !== 0) s = (s + 1) & this.mask;
      slots[2 * s] = key;
      slots[2 * s + 1] = owner;
      this.occupied++;
    }
  }
}
