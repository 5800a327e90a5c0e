// One endpoint's share of the prefix index: a compact hash table of block keys, forgotten a request at a time,
// oldest request first.

import { keyBlockIndex } from './prefix-hasher.js';

/** Slots start small (an endpoint that sees little traffic costs little) and double as live keys need. */
const INITIAL_SLOTS = 256;
/** Requests remembered at once: the ring of per-request counts starts small and doubles up to this. */
const MAX_REMEMBERED = 16_384;
const INITIAL_REMEMBERED = 64;
/** Owner of a withdrawn key: dead (below every watermark, which starts at 1), yet not 0, which ends a probe run. */
const WITHDRAWN = -1;
/** Sequence numbers are rebased (lowered by a multiple of the ring's length) once they pass this, to stay in an Int32. */
const DEFAULT_REBASE_AT = 2 ** 30;

/** The 32-bit form of a block key `index * 2^32 + hash32` (or any non-negative integer below 2^53). */
function key32(key: number): number {
  // The hash already chains every earlier block; the index is mixed in so keys of equal hashes stay apart.
  return ((key >>> 0) ^ Math.imul(keyBlockIndex(key), 0x85ebca6b)) | 0;
}

/**
 * Open addressing with linear probing over one Int32Array of (key, owner) pairs: the key in 32 bits (see
 * {@link key32}: two different keys share a slot's key with probability 2^-32, which at most lengthens or shortens
 * one match, a hint's error), the owner the sequence number of the newest request that recorded it (0: empty).
 * Eight bytes a slot, at most 3/4 of the slots occupied: a probe run mostly stays in one 64-byte cache line.
 *
 * Recording a request's n keys is n probes, no allocation. Requests are forgotten oldest first by raising a
 * watermark: a key whose owner is below it is dead (its slot is reused by the next insertion that passes it, and
 * dropped when the table is rebuilt), so forgetting a request is O(1) whatever its length; a ring of per-request
 * counts keeps the live count exact. What the table holds stays prefix-closed: a request that recorded a key
 * recorded all keys before it with it (keys chain from block 0), so an ancestor's owner is never older than a
 * descendant's and never dies first.
 *
 * Keys may skip blocks (the hasher's sparse schedule): each counts for the blocks since the key before it in its
 * request (`index - previous index`, at least 1), so the capacity and the size are in blocks whatever the schedule.
 * That weight depends only on the key's index and the schedule, which is the same for every request of a process.
 *
 * Cost: `add` O(n) for n keys plus amortised O(1) rebuilds (at least a quarter of the slots are filled between
 * two); `has` O(1) expected. Memory 8 bytes per slot, 2-4 slots per live key, plus 4 bytes per remembered request
 * (at most 16,384); the requests' key arrays are not kept.
 */
export class BlockTable {
  private slots = new Int32Array(INITIAL_SLOTS * 2);
  private mask = INITIAL_SLOTS - 1;
  /** 32 - log2(slots): a key's home slot is the top bits of its Fibonacci product. */
  private shift = 32 - Math.log2(INITIAL_SLOTS);
  /** Slots holding a key, live or dead, and how many may before a rebuild (3/4 of them). */
  private occupied = 0;
  private maxOccupied = (INITIAL_SLOTS * 3) >> 2;
  /** Blocks the live keys stand for. */
  private live = 0;
  /** The newest request's sequence number; requests below `watermark` are forgotten. */
  private seq = 0;
  private watermark = 1;
  /** Blocks each remembered request owns, at index seq & ringMask. */
  private owned = new Int32Array(INITIAL_REMEMBERED);
  private ringMask = INITIAL_REMEMBERED - 1;

  /** `rebaseAt`: tests lower it to exercise the sequence numbers' rebase. */
  constructor(
    private cap: number,
    private readonly rebaseAt = DEFAULT_REBASE_AT,
  ) {}

  /** Blocks held (the live keys' weights). */
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
    const k = key32(key);
    const slots = this.slots;
    const mask = this.mask;
    for (let s = Math.imul(k, 0x9e3779b1) >>> this.shift; ; s = (s + 1) & mask) {
      const owner = slots[2 * s + 1] as number;
      if (owner === 0) return false;
      if (slots[2 * s] === k) return owner >= this.watermark;
    }
  }

  /**
   * Records the leading keys that stand for at most `capacity` blocks as one request, the newest; returns its
   * sequence number (0 when nothing was recorded), which {@link withdraw} takes.
   */
  add(keys: ArrayLike<number>): number {
    const n = keys.length;
    if (n === 0) return 0;
    if (this.seq >= this.rebaseAt) this.rebase();
    this.makeRoomForRequest();
    const seq = ++this.seq;
    this.owned[seq & this.ringMask] = 0;
    let previous = -1;
    let blocks = 0;
    for (let i = 0; i < n; i++) {
      const key = keys[i] as number;
      const index = keyBlockIndex(key);
      const weight = index > previous ? index - previous : 1;
      previous = index;
      if ((blocks += weight) > this.cap) break;
      this.put(key32(key), seq, weight);
      // Forgetting as the request goes keeps the live blocks (and so the table) within the capacity.
      while (this.live > this.cap && this.watermark < seq) this.forgetOldest();
    }
    return seq;
  }

  /**
   * Takes back keys `from..` of request `seq` (the same keys it was given) wherever no newer request recorded them
   * since: the request was served elsewhere, so this endpoint never cached those blocks. The request stays
   * remembered for its first `from` keys (held before it). O(keys).
   */
  withdraw(keys: ArrayLike<number>, from: number, seq: number): void {
    if (seq < this.watermark) return; // forgotten already
    const slots = this.slots;
    let previous = -1;
    let blocks = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as number;
      const index = keyBlockIndex(key);
      const weight = index > previous ? index - previous : 1;
      previous = index;
      if ((blocks += weight) > this.cap) break; // not recorded (see add)
      if (i < from) continue;
      const k = key32(key);
      for (let s = Math.imul(k, 0x9e3779b1) >>> this.shift; ; s = (s + 1) & this.mask) {
        const owner = slots[2 * s + 1] as number;
        if (owner === 0) break;
        if (slots[2 * s] === k) {
          if (owner === seq) {
            slots[2 * s + 1] = WITHDRAWN;
            this.count(seq, -weight);
            this.live -= weight;
          }
          break;
        }
      }
    }
  }

  private put(k: number, seq: number, weight: number): void {
    if (this.occupied >= this.maxOccupied) this.rebuild();
    const slots = this.slots;
    const mask = this.mask;
    let reusable = -1;
    for (let s = Math.imul(k, 0x9e3779b1) >>> this.shift; ; s = (s + 1) & mask) {
      const owner = slots[2 * s + 1] as number;
      if (owner === 0) {
        if (reusable < 0) {
          reusable = s;
          this.occupied++;
        }
        break;
      }
      if (slots[2 * s] === k) {
        if (owner >= this.watermark) {
          // Live: the key moves to the newest request.
          if (owner !== seq) {
            this.count(owner, -weight);
            this.count(seq, weight);
            slots[2 * s + 1] = seq;
          }
          return;
        }
        reusable = s; // its own dead slot
        break;
      }
      if (reusable < 0 && owner < this.watermark) reusable = s; // a dead key's slot; keep looking for this key
    }
    slots[2 * reusable] = k;
    slots[2 * reusable + 1] = seq;
    this.count(seq, weight);
    this.live += weight;
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

  /**
   * Lowers every sequence number by a multiple of the ring's length (so each request keeps its ring entry), after
   * a rebuild has dropped the dead keys, whose owners could otherwise come out at 0 (empty) or look live. Once per
   * ~2^30 requests.
   */
  private rebase(): void {
    const ring = this.ringMask + 1;
    const by = Math.floor((this.watermark - 1) / ring) * ring;
    if (by === 0) return;
    this.rebuild();
    const slots = this.slots;
    for (let i = 1; i < slots.length; i += 2) if (slots[i] !== 0) slots[i] = (slots[i] as number) - by;
    this.seq -= by;
    this.watermark -= by;
  }

  /** Rehashes the live keys, into twice the slots when they fill half or more (else the same number). */
  private rebuild(): void {
    const old = this.slots;
    const oldSlots = this.mask + 1;
    let liveSlots = 0;
    for (let i = 1; i < old.length; i += 2) if ((old[i] as number) >= this.watermark) liveSlots++;
    let slotCount = oldSlots;
    while ((liveSlots + 1) * 2 > slotCount) slotCount *= 2;
    const slots = (this.slots = new Int32Array(slotCount * 2));
    const mask = (this.mask = slotCount - 1);
    this.shift = 32 - Math.log2(slotCount);
    this.maxOccupied = (slotCount * 3) >> 2;
    this.occupied = liveSlots;
    for (let i = 0; i < oldSlots; i++) {
      const owner = old[2 * i + 1] as number;
      if (owner < this.watermark) continue; // empty or dead
      const k = old[2 * i] as number;
      let s = Math.imul(k, 0x9e3779b1) >>> this.shift;
      while (slots[2 * s + 1] !== 0) s = (s + 1) & mask;
      slots[2 * s] = k;
      slots[2 * s + 1] = owner;
    }
  }
}
