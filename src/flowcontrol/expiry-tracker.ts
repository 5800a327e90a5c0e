// Deadline tracking for queued items, so an expired request leaves its queue within timer precision (not on a
// periodic sweep), with one clock timer for the earliest deadline.
//
// Items that share an effective TTL and arrive in order also expire in order, so they sit in one FIFO "lane"
// per TTL: adding and removing are O(1), and a small heap over the lane heads (one entry per distinct TTL)
// finds the earliest. The rare item that would break a lane's order (an explicit deadline, or a caller-given
// arrival time out of order) goes to a general indexed heap instead. A single heap for everything made every
// dispatch pay an O(log n) sift through cold memory.
import { type Clock, IndexedHeap, type TimerHandle } from '../core/index.js';
import { ItemList, ItemSlot } from './item-lists.js';
import { type QueueItem } from './queue-item.js';

/** Distinct TTL lanes kept at most; beyond that items fall back to the general heap. */
export const MAX_EXPIRY_LANES = 32;

export class ExpiryLane {
  readonly items = new ItemList(ItemSlot.lane);
  heapIndex = -1;

  constructor(readonly ttl: number) {}
}

const LANE_SLOT = {
  get: (l: ExpiryLane): number => l.heapIndex,
  set: (l: ExpiryLane, i: number): void => {
    l.heapIndex = i;
  },
};

const ITEM_SLOT = {
  get: (i: QueueItem): number => i.expiryHeapIndex,
  set: (i: QueueItem, index: number): void => {
    i.expiryHeapIndex = index;
  },
};

const headExpiry = (l: ExpiryLane): number => l.items.head?.expiresAt ?? Infinity;

/** Complexity: add and remove O(1) for in-order items (O(log lanes) when a lane head changes), O(log n) otherwise. */
export class ExpiryTracker {
  private readonly lanes = new Map<number, ExpiryLane>();
  private readonly laneHeap = new IndexedHeap<ExpiryLane>((a, b) => headExpiry(a) < headExpiry(b), LANE_SLOT);
  private readonly stragglers = new IndexedHeap<QueueItem>(
    (a, b) => a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && a.seq < b.seq),
    ITEM_SLOT,
  );
  private timer: TimerHandle | undefined;
  private armedFor = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly onExpired: (item: QueueItem) => void,
  ) {}

  /** Tracks `item`, whose expiry is its arrival plus `ttl` unless an explicit deadline came first. */
  add(item: QueueItem, ttl: number): void {
    if (item.expiresAt === Infinity) return;
    let lane = this.lanes.get(ttl);
    if (lane === undefined && this.lanes.size < MAX_EXPIRY_LANES) {
      lane = new ExpiryLane(ttl);
      this.lanes.set(ttl, lane);
    }
    const tail = lane?.items.tail;
    if (lane !== undefined && (tail === undefined || tail.expiresAt <= item.expiresAt)) {
      lane.items.push(item);
      item.expiryLane = lane;
      if (tail === undefined) this.laneHeap.push(lane);
    } else {
      this.stragglers.push(item);
    }
    if (item.expiresAt < this.armedFor) this.arm(item.expiresAt);
  }

  remove(item: QueueItem): void {
    const lane = item.expiryLane;
    if (lane !== undefined) {
      item.expiryLane = undefined;
      const wasHead = lane.items.head === item;
      lane.items.remove(item);
      if (lane.items.size === 0) {
        this.laneHeap.remove(lane);
        this.lanes.delete(lane.ttl);
      } else if (wasHead) {
        this.laneHeap.update(lane);
      }
    } else {
      this.stragglers.remove(item);
    }
    // A timer left armed for a removed item fires once, finds nothing due and re-arms: cheaper than re-arming here.
  }

  close(): void {
    this.disarm();
    for (const lane of this.lanes.values()) {
      for (let i = lane.items.head; i !== undefined; i = lane.items.head) {
        lane.items.remove(i);
        i.expiryLane = undefined;
      }
    }
    this.lanes.clear();
    this.laneHeap.clear();
    this.stragglers.clear();
  }

  private earliest(): QueueItem | undefined {
    const fromLane = this.laneHeap.peek()?.items.head;
    const straggler = this.stragglers.peek();
    if (fromLane === undefined) return straggler;
    if (straggler === undefined) return fromLane;
    return straggler.expiresAt < fromLane.expiresAt ? straggler : fromLane;
  }

  private arm(at: number): void {
    this.disarm();
    this.armedFor = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    for (let head = this.earliest(); head !== undefined && head.expiresAt <= now; head = this.earliest()) {
      this.remove(head);
      this.onExpired(head);
    }
    const next = this.earliest();
    if (next !== undefined) this.arm(next.expiresAt);
  }
}
