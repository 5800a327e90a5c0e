// One endpoint's share of the prefix index: a compact hash table of block keys, forgotten a request at a time,
// oldest request first.
import Denque from 'denque';

/** Slots start small (an endpoint that sees little traffic costs little) and double up to 2x capacity. */
const INITIAL_SLOTS = 256;
const TWO_POW_32 = 4294967296;

interface Recorded {
  /** The request's chained block keys (shared, never modified), of which the first `count` were recorded. */
  readonly keys: ArrayLike<number>;
  readonly count: number;
  readonly seq: number;
}

/**
 * Open addressing with linear probing over two typed arrays (the key, and the sequence number of the newest
 * request that recorded it; 0 marks an empty slot), so recording a request's n blocks is n probes with no
 * allocation per block. Requests are remembered in arrival order; beyond capacity the oldest request is
 * forgotten: each of its keys goes unless a newer request recorded it again. That keeps what the table holds
 * prefix-closed: a request that recorded a block recorded all its ancestors with it (keys chain from block 0),
 * so an ancestor's newest request is never older than a descendant's, and never leaves first.
 *
 * Cost: `add` O(n) amortised (the forgotten requests' keys are visited once each), `has` O(1) expected; memory
 * 16 bytes per slot (at most 4x capacity slots at a load of 1/4 to 1/2) plus the recorded key arrays, which are
 * the requests' own (bounded: requests are forgotten once they hold over twice the capacity in keys).
 */
export class BlockTable {
  private keys = new Float64Array(INITIAL_SLOTS);
  private owners = new Float64Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private used = 0;
  private readonly recorded = new Denque<Recorded>();
  private recordedKeys = 0;
  private seq = 0;

  constructor(private cap: number) {}

  get size(): number {
    return this.used;
  }

  get capacity(): number {
    return this.cap;
  }

  /** Changes the bound; a smaller one takes effect on the next {@link add}. */
  resize(capacity: number): void {
    this.cap = capacity;
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  /** Records the first `min(keys.length, capacity)` keys as one request, the newest. */
  add(keys: ArrayLike<number>): void {
    const count = Math.min(keys.length, this.cap);
    if (count === 0) return;
    const seq = ++this.seq;
    for (let i = 0; i < count; i++) this.put(keys[i] as number, seq);
    this.recorded.push({ keys, count, seq });
    this.recordedKeys += count;
    while (this.used > this.cap || this.recordedKeys > 2 * this.cap) {
      if (!this.forgetOldest()) break;
    }
  }

  private slotOf(key: number): number {
    // The low 32 bits are the chained hash; the high part (block index) is mixed in for keys of equal hashes.
    const low = key >>> 0;
    return (low ^ Math.imul((key - low) / TWO_POW_32, 0x9e3779b1)) & this.mask;
  }

  private find(key: number): number {
    const keys = this.keys;
    const owners = this.owners;
    for (let s = this.slotOf(key); ; s = (s + 1) & this.mask) {
      if (owners[s] === 0) return -1;
      if (keys[s] === key) return s;
    }
  }

  private put(key: number, seq: number): void {
    if ((this.used + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    const owners = this.owners;
    let s = this.slotOf(key);
    for (;;) {
      if (owners[s] === 0) {
        keys[s] = key;
        owners[s] = seq;
        this.used++;
        return;
      }
      if (keys[s] === key) {
        owners[s] = seq;
        return;
      }
      s = (s + 1) & this.mask;
    }
  }

  private forgetOldest(): boolean {
    const oldest = this.recorded.shift();
    if (oldest === undefined) return false;
    this.recordedKeys -= oldest.count;
    for (let i = 0; i < oldest.count; i++) {
      const s = this.find(oldest.keys[i] as number);
      if (s >= 0 && this.owners[s] === oldest.seq) this.remove(s);
    }
    return true;
  }

  /** Backward-shift deletion: later entries of the probe run move up, so no tombstones are needed. */
  private remove(slot: number): void {
    const keys = this.keys;
    const owners = this.owners;
    const mask = this.mask;
    let hole = slot;
    for (let s = (slot + 1) & mask; owners[s] !== 0; s = (s + 1) & mask) {
      const home = this.slotOf(keys[s] as number);
      // Move the entry into the hole unless its home lies cyclically in (hole, s].
      if (((s - home) & mask) >= ((s - hole) & mask)) {
        keys[hole] = keys[s] as number;
        owners[hole] = owners[s] as number;
        hole = s;
      }
    }
    owners[hole] = 0;
    this.used--;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldOwners = this.owners;
    const slots = oldKeys.length * 2;
    this.keys = new Float64Array(slots);
    this.owners = new Float64Array(slots);
    this.mask = slots - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const owner = oldOwners[i] as number;
      if (owner === 0) continue;
      const key = oldKeys[i] as number;
      let s = this.slotOf(key);
      while (this.owners[s] !== 0) s = (s + 1) & this.mask;
      this.keys[s] = key;
      this.owners[s] = owner;
    }
  }
}
