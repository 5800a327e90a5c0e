// Messages between the dispatch thread and the scrape worker, and the compact encoding of outcome batches: the
// numbers of a batch in one Float64Array (one structured-clone copy), strings only when they changed (LoRA
// adapter lists) or when a scrape failed (its detail).
import { type EndpointMetrics } from './endpoint.js';
import { type EngineMetricNames } from './engine-metrics.js';
import { type MetricsTarget, type MetricsTlsOptions } from './metrics-fetcher.js';
import { type ScrapeOutcome } from './metrics-scraper.js';
import { type ScrapeFailureReason, SCRAPE_FAILURE_REASONS } from './scrape-failure.js';
import { type ScrapeTiming } from './scrape-runner.js';

/** What the worker is started with (workerData). Functions cannot cross threads: the token comes as a value. */
export interface ScrapeWorkerInit {
  readonly timing: ScrapeTiming;
  readonly fetch: {
    readonly scheme?: 'http' | 'https';
    readonly tls?: MetricsTlsOptions;
    readonly maxBodyBytes?: number;
    readonly keepAliveMs?: number;
  };
  readonly token: string | undefined;
  /** Added to the worker thread's nice value (see thread-priority.ts); 0 leaves it as it is. */
  readonly nice: number;
}

export type ToWorker =
  | { readonly kind: 'add'; readonly slot: number; readonly id: string; readonly target: MetricsTarget; readonly names: EngineMetricNames; readonly initialDelayMs: number }
  | { readonly kind: 'remove'; readonly id: string }
  | { readonly kind: 'token'; readonly token: string | undefined }
  | { readonly kind: 'close' };

export type FromWorker =
  | { readonly kind: 'outcomes'; readonly nums: Float64Array; readonly extras: readonly Extra[] }
  | { readonly kind: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly obj: object; readonly msg: string | undefined }
  | { readonly kind: 'closed' };

/** Per outcome: nothing, new LoRA lists `[running, waiting]`, or a failure's detail. */
export type Extra = null | readonly [readonly string[], readonly string[]] | string;

/** slot, ok, startedAt, finishedAt, waiting, running, kv, blockSize, numBlocks, maxLora, reason index. */
export const STRIDE = 11;

/** @default 2 ms: the oldest outcome of a batch waits at most this long to be sent. */
export const BATCH_WINDOW_MS = 2;
/**
 * @default 64: outcomes per message at most. A worker whose loop turn runs long (busy, or held back by the
 * operating system) finishes hundreds of scrapes in one turn; sent as one message, applying it held the dispatch
 * thread for a millisecond or more at a time (its event-loop delay p99 followed). Bounded, a message costs the
 * dispatch thread ~0.1 ms, and it applies at most APPLY_PER_TURN outcomes per loop turn (OutcomeBacklog).
 */
export const BATCH_MAX = 64;

/**
 * Worker side: collects outcomes, in the sender's time base (epoch ms: timeOrigin + now()), until the batch is
 * due: BATCH_MAX of them, or the oldest BATCH_WINDOW_MS old. One message per window rather than per outcome or
 * loop turn: a message costs both threads ~20 us, and 1,000 endpoints finish 20 scrapes per millisecond.
 */
export class OutcomeBatchWriter {
  /**
   * The batch's numbers, written in place (STRIDE per outcome); grown by doubling when a caller adds more than
   * BATCH_MAX before taking. A number[] grown by push cost the worker ~17 KB of garbage per 64 outcomes (every
   * growth step copied), a quarter of what it allocated per scrape.
   */
  private nums = new Float64Array(BATCH_MAX * STRIDE);
  /** The batch's extras, entries `[0, count)`; kept and overwritten from one batch to the next. */
  private readonly extras: Extra[] = [];
  private count = 0;
  /** Last LoRA lists sent per slot: unchanged lists are not sent again. */
  private readonly lastLora = new Map<number, EndpointMetrics>();
  /** When the batch's first outcome was added (the caller's clock). */
  private since = 0;

  constructor(private readonly timeOrigin: number) {}

  get size(): number {
    return this.count;
  }

  /** Whether the batch should be sent now: full, or its oldest outcome's window over. */
  due(now: number): boolean {
    return this.count >= BATCH_MAX || (this.count > 0 && now - this.since >= BATCH_WINDOW_MS);
  }

  /** Milliseconds until the oldest outcome's window is over (0 when due, or empty). */
  msUntilDue(now: number): number {
    return this.count === 0 ? 0 : Math.max(0, BATCH_WINDOW_MS - (now - this.since));
  }

  /** `now`: when it is added, on the caller's clock (for `due`). */
  add(slot: number, outcome: ScrapeOutcome, now = 0): void {
    const i = this.count;
    if (i === 0) this.since = now;
    let nums = this.nums;
    const b = i * STRIDE;
    if (b + STRIDE > nums.length) {
      const grown = new Float64Array(nums.length * 2);
      grown.set(nums);
      this.nums = nums = grown;
    }
    const t0 = this.timeOrigin;
    nums[b] = slot;
    nums[b + 2] = t0 + outcome.startedAt;
    nums[b + 3] = t0 + outcome.finishedAt;
    if (outcome.ok) {
      const m = outcome.metrics;
      const last = this.lastLora.get(slot);
      const same = last !== undefined && sameList(last.loraRunning, m.loraRunning) && sameList(last.loraWaiting, m.loraWaiting);
      this.lastLora.set(slot, m);
      this.setExtra(i, same ? null : [m.loraRunning, m.loraWaiting]);
      nums[b + 1] = 1;
      nums[b + 4] = m.waitingQueue;
      nums[b + 5] = m.runningRequests;
      nums[b + 6] = m.kvCacheUsage;
      nums[b + 7] = m.kvBlockSize ?? Number.NaN;
      nums[b + 8] = m.kvNumBlocks ?? Number.NaN;
      nums[b + 9] = m.maxLora;
      nums[b + 10] = -1;
    } else {
      this.setExtra(i, outcome.detail);
      nums[b + 1] = 0;
      nums[b + 4] = 0;
      nums[b + 5] = 0;
      nums[b + 6] = 0;
      nums[b + 7] = 0;
      nums[b + 8] = 0;
      nums[b + 9] = 0;
      nums[b + 10] = SCRAPE_FAILURE_REASONS.indexOf(outcome.reason);
    }
    this.count = i + 1;
  }

  forget(slot: number): void {
    this.lastLora.delete(slot);
  }

  /** The batch as exact-length copies (the numbers' buffer is for transferring); the writer starts a new one. */
  take(): { nums: Float64Array; extras: Extra[] } {
    const n = this.count;
    const out = { nums: this.nums.slice(0, n * STRIDE), extras: this.extras.slice(0, n) };
    // Dropped references: a failure's detail or a LoRA list is not held until the slot is overwritten.
    for (let i = 0; i < n; i++) this.extras[i] = null;
    this.count = 0;
    return out;
  }

  private setExtra(i: number, extra: Extra): void {
    if (i < this.extras.length) this.extras[i] = extra;
    else this.extras.push(extra);
  }
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * @default 64: outcomes the dispatch thread applies per turn of its event loop at most; the rest of what has
 * arrived waits for its next turn, so timers and I/O run in between. A burst of batches (a dispatch thread the
 * operating system held back finds several waiting) is then never applied in one stretch: ~0.1 ms per turn.
 */
export const APPLY_PER_TURN = 64;

/**
 * @default 0.2 ms: a loop turn stops applying outcomes once it has spent this long on them (looked at every
 * APPLY_STEP outcomes), even short of APPLY_PER_TURN. 64 outcomes take ~0.1 ms on a warm, uncontended thread, but
 * several times that on a thread whose caches the worker just used or whose core is shared: the count alone let
 * such a turn hold the loop for 0.3-0.5 ms at the p99. The snapshot and its listeners come after, once per turn.
 */
export const APPLY_TURN_MS = 0.2;

/**
 * @default 8: outcomes applied between two looks at the clock, and so the fewest a turn applies (when that many
 * wait): however slow the thread, the backlog drains, each turn paying the snapshot for at least this many.
 */
export const APPLY_STEP = 8;

/**
 * @default 128 (two loop turns' worth): outcomes waiting as received at most. Beyond it the backlog merges per
 * endpoint (OutcomeBacklog), so it stays bounded however long the dispatch thread's loop turns get.
 */
export const MERGE_ABOVE = 2 * APPLY_PER_TURN;

type GoodOutcome = Extract<ScrapeOutcome, { ok: true }>;
type FailedOutcome = Extract<ScrapeOutcome, { ok: false }>;

/**
 * One slot's merged outcomes: its newest good one, the newest failure after that, and how many outcomes these
 * superseded (index 0 good ones, 1 + i failures of reason SCRAPE_FAILURE_REASONS[i]).
 */
interface Merged {
  good: GoodOutcome | undefined;
  failure: FailedOutcome | undefined;
  superseded: Uint32Array | undefined;
}

/** Receives the outcomes merged away: `kind` 'ok' or the failure's reason, `count` of them (see SupersededListener). */
export type SupersededBySlot = (slot: number, kind: 'ok' | ScrapeFailureReason, count: number) => void;

/** Receives one outcome read off a batch, with the tag its slot is bound to (OutcomeBatchReader.bind), if any. */
export type OutcomeEmit<T> = (slot: number, outcome: ScrapeOutcome, tag: T | undefined) => void;

/**
 * Dispatch-thread side: outcomes received and not yet applied, read out `budget` at a time (a batch may be read in
 * parts, across turns). Normally batches as received, oldest first. When more than MERGE_ABOVE outcomes would wait
 * (the dispatch thread's turns are too long or too few for the arrival rate), everything waiting is decoded and
 * merged per slot, and so is everything that arrives until the merged outcomes are all applied. Per slot it keeps
 * its newest good outcome and the newest failure after it (at most two), and counts the rest by kind.
 *
 * Why that is the same: applying a slot's outcomes in order leaves the store as applying those two does (a good
 * scrape's snapshot is built afresh; failures after it keep its metrics, mark the endpoint stale and leave the
 * last one's reason), and a scrape listener's markScraped with the later start covers the earlier one (starts of a
 * slot's scrapes never decrease: an endpoint's scrapes run one at a time). What is lost is only what happened in
 * between (a failure followed by a good scrape: the endpoint was failing for a while no one read); counters still
 * see every outcome through `superseded`.
 *
 * Bounds: at most MERGE_ABOVE outcomes as received plus two per slot merged (1,000 endpoints: ~2,100), whatever
 * the arrival rate. A slot's merged entry keeps its place (Map insertion order) while newer outcomes replace its
 * content, so it is applied within ceil(entries / budget) reads of its first outcome's arrival, newest figures
 * included (`readTurn`: ceil(entries / APPLY_STEP) turns at worst, ceil(entries / APPLY_PER_TURN) while turns are
 * fast). O(1) per outcome either way.
 */
export class OutcomeBacklog {
  private batches: { readonly nums: Float64Array; readonly extras: readonly Extra[]; next: number }[] = [];
  /** Outcomes in `batches` not yet read. */
  private waiting = 0;
  /** Non-empty only while `batches` is empty: everything newer than the batches goes here while it holds any. */
  private readonly merged = new Map<number, Merged>();

  /** `mergeAbove`: outcomes kept as received at most (tests use small ones). */
  constructor(private readonly mergeAbove = MERGE_ABOVE) {}

  /** Whether anything is left to read. */
  get pending(): boolean {
    return this.batches.length > 0 || this.merged.size > 0;
  }

  /** Outcomes held (as received, plus merged ones); for tests and diagnosis. */
  get size(): number {
    let n = this.waiting;
    for (const m of this.merged.values()) n += (m.good === undefined ? 0 : 1) + (m.failure === undefined ? 0 : 1);
    return n;
  }

  /** `reader` and `offset` decode outcomes to merge (the same ones `read` is given: reading is stateful). */
  push<T>(nums: Float64Array, extras: readonly Extra[], reader: OutcomeBatchReader<T>, offset: number): void {
    if (extras.length === 0) return;
    if (this.merged.size === 0 && this.waiting + extras.length <= this.mergeAbove) {
      this.batches.push({ nums, extras, next: 0 });
      this.waiting += extras.length;
      return;
    }
    // Oldest first: what waits as received, then this batch.
    for (const batch of this.batches) reader.read(batch.nums, batch.extras, offset, this.merge, batch.next);
    this.batches = [];
    this.waiting = 0;
    reader.read(nums, extras, offset, this.merge);
  }

  /**
   * Reads up to `budget` outcomes (one more when a merged slot's two come last), oldest first (merged ones: per
   * slot in order, slots in order of their first merged outcome), through `emit`; the count of outcomes merged
   * away goes to `superseded` first. Returns how many it emitted.
   */
  read<T>(reader: OutcomeBatchReader<T>, offset: number, emit: OutcomeEmit<T>, budget: number, superseded?: SupersededBySlot): number {
    if (this.merged.size > 0) return this.readMerged(reader, emit, budget, superseded);
    let left = budget;
    let done = 0;
    for (const batch of this.batches) {
      if (left <= 0) break;
      const from = batch.next;
      const to = Math.min(batch.extras.length, from + left);
      // Moved on before reading: an outcome whose emit throws is not read twice.
      batch.next = to;
      left -= to - from;
      this.waiting -= to - from;
      reader.read(batch.nums, batch.extras, offset, emit, from, to);
      if (to < batch.extras.length) break;
      done++;
    }
    if (done > 0) this.batches.splice(0, done);
    return budget - left;
  }

  /**
   * One loop turn's share: APPLY_STEP outcomes at a time (as `read`) until `limits.max` (APPLY_PER_TURN) have been
   * read or `limits.ms` (APPLY_TURN_MS) have passed on `now` since the turn began, looked at after each step. So a
   * turn reads at least one step's worth (when that many wait) and stops within one step of its time. Returns how
   * many it emitted.
   */
  readTurn<T>(
    reader: OutcomeBatchReader<T>,
    offset: number,
    emit: OutcomeEmit<T>,
    now: () => number,
    superseded?: SupersededBySlot,
    limits: { readonly max: number; readonly ms: number; readonly step: number } = TURN_LIMITS,
  ): number {
    const began = now();
    let read = 0;
    while (read < limits.max && this.pending) {
      read += this.read(reader, offset, emit, Math.min(limits.step, limits.max - read), superseded);
      if (now() - began >= limits.ms) break;
    }
    return read;
  }

  clear(): void {
    this.batches = [];
    this.waiting = 0;
    this.merged.clear();
  }

  private readMerged<T>(reader: OutcomeBatchReader<T>, emit: OutcomeEmit<T>, budget: number, superseded: SupersededBySlot | undefined): number {
    let emitted = 0;
    for (const [slot, m] of this.merged) {
      if (emitted >= budget) break;
      // Gone before applying: an emit that throws does not apply it twice.
      this.merged.delete(slot);
      if (m.superseded !== undefined && superseded !== undefined) {
        const counts = m.superseded;
        for (let i = 0; i < counts.length; i++) {
          const n = counts[i] ?? 0;
          if (n > 0) superseded(slot, i === 0 ? 'ok' : (SCRAPE_FAILURE_REASONS[i - 1] ?? 'other'), n);
        }
      }
      const tag = reader.tagOf(slot);
      if (m.good !== undefined) {
        emitted++;
        emit(slot, m.good, tag);
      }
      if (m.failure !== undefined) {
        emitted++;
        emit(slot, m.failure, tag);
      }
    }
    return emitted;
  }

  private readonly merge = (slot: number, outcome: ScrapeOutcome): void => {
    let m = this.merged.get(slot);
    if (m === undefined) {
      m = { good: undefined, failure: undefined, superseded: undefined };
      this.merged.set(slot, m);
    }
    if (outcome.ok) {
      if (m.good !== undefined) supersede(m, 0);
      if (m.failure !== undefined) supersede(m, 1 + SCRAPE_FAILURE_REASONS.indexOf(m.failure.reason));
      m.good = outcome;
      m.failure = undefined;
    } else {
      if (m.failure !== undefined) supersede(m, 1 + SCRAPE_FAILURE_REASONS.indexOf(m.failure.reason));
      m.failure = outcome;
    }
  };
}

function supersede(m: Merged, index: number): void {
  m.superseded ??= new Uint32Array(1 + SCRAPE_FAILURE_REASONS.length);
  m.superseded[index] = (m.superseded[index] ?? 0) + 1;
}

const TURN_LIMITS = { max: APPLY_PER_TURN, ms: APPLY_TURN_MS, step: APPLY_STEP } as const;

/** What the dispatch thread keeps per slot: the caller's tag, the last LoRA lists and the last good metrics read. */
interface SlotRecord<T> {
  tag: T | undefined;
  lora: readonly [readonly string[], readonly string[]] | undefined;
  last: EndpointMetrics | undefined;
}

/**
 * Dispatch-thread side: turns a batch back into outcomes in this thread's time base. A slot's metrics object is
 * reused while its numbers and LoRA lists are unchanged (no allocation or freeze for an endpoint whose figures did
 * not move), so readers may also compare metrics by identity. A slot may be bound to a tag (the runner binds the
 * endpoint's id), handed to `emit` with each of its outcomes. Everything kept per slot is one record: one map lookup
 * per outcome (O(1)), where a map per kind (and the runner's own slot-to-id map) cost three or four, each a cache
 * miss more often than not on a thread the worker shares a core with.
 */
export class OutcomeBatchReader<T = unknown> {
  private readonly slots = new Map<number, SlotRecord<T>>();

  /** Binds `slot` to `tag`, given with each outcome of the slot until it is forgotten. */
  bind(slot: number, tag: T): void {
    this.record(slot).tag = tag;
  }

  tagOf(slot: number): T | undefined {
    return this.slots.get(slot)?.tag;
  }

  /**
   * `offset`: add to the sender's epoch times to get this thread's clock (performance.now()). `from`/`to`: the
   * outcomes of the batch to read (by position), for a batch read in parts; the whole batch by default.
   */
  read(nums: Float64Array, extras: readonly Extra[], offset: number, emit: OutcomeEmit<T>, from = 0, to = extras.length): void {
    for (let i = from; i < Math.min(to, extras.length); i++) {
      const b = i * STRIDE;
      const slot = nums[b] ?? -1;
      const startedAt = (nums[b + 2] ?? 0) + offset;
      const finishedAt = (nums[b + 3] ?? 0) + offset;
      const extra = extras[i] ?? null;
      const record = this.record(slot);
      if (nums[b + 1] === 1) {
        if (extra !== null && typeof extra !== 'string') record.lora = [Object.freeze([...extra[0]]), Object.freeze([...extra[1]])];
        emit(slot, { ok: true, metrics: metricsAt(nums, b, record), startedAt, finishedAt }, record.tag);
      } else {
        const reason: ScrapeFailureReason = SCRAPE_FAILURE_REASONS[nums[b + 10] ?? -1] ?? 'other';
        const detail = typeof extra === 'string' ? extra : reason;
        emit(slot, { ok: false, reason, detail, startedAt, finishedAt }, record.tag);
      }
    }
  }

  /** Drops everything kept for `slot`, its tag included. */
  forget(slot: number): void {
    this.slots.delete(slot);
  }

  /** Drops everything kept for every slot (a runner closing). */
  clear(): void {
    this.slots.clear();
  }

  private record(slot: number): SlotRecord<T> {
    let record = this.slots.get(slot);
    if (record === undefined) {
      record = { tag: undefined, lora: undefined, last: undefined };
      this.slots.set(slot, record);
    }
    return record;
  }
}

/** The slot's metrics at `b`: its last object when nothing moved, else a new frozen one (kept as its last). */
function metricsAt<T>(nums: Float64Array, b: number, record: SlotRecord<T>): EndpointMetrics {
  const waitingQueue = small(nums[b + 4] ?? 0);
  const runningRequests = small(nums[b + 5] ?? 0);
  const kvCacheUsage = nums[b + 6] ?? 0;
  const blockSize = small(nums[b + 7] ?? Number.NaN);
  const numBlocks = small(nums[b + 8] ?? Number.NaN);
  const maxLora = small(nums[b + 9] ?? 0);
  const loraRunning = record.lora?.[0] ?? EMPTY;
  const loraWaiting = record.lora?.[1] ?? EMPTY;
  const geometry = !Number.isNaN(blockSize) && !Number.isNaN(numBlocks);
  const last = record.last;
  if (
    last !== undefined &&
    last.waitingQueue === waitingQueue &&
    last.runningRequests === runningRequests &&
    last.kvCacheUsage === kvCacheUsage &&
    last.maxLora === maxLora &&
    last.loraRunning === loraRunning &&
    last.loraWaiting === loraWaiting &&
    (geometry ? last.kvBlockSize === blockSize && last.kvNumBlocks === numBlocks : last.kvBlockSize === undefined)
  ) {
    return last;
  }
  // Two literal shapes rather than a conditional spread: cheaper to build, and one hidden class each.
  const metrics: EndpointMetrics = Object.freeze(
    geometry
      ? { waitingQueue, runningRequests, kvCacheUsage, loraRunning, loraWaiting, maxLora, kvBlockSize: blockSize, kvNumBlocks: numBlocks }
      : { waitingQueue, runningRequests, kvCacheUsage, loraRunning, loraWaiting, maxLora },
  );
  record.last = metrics;
  return metrics;
}

/**
 * The same number, as a small integer where it is one. A count read off a Float64Array is a double: kept as one, it
 * made every count field of the metrics objects a boxed double (V8 picks a field's representation from the values
 * stored in it), ~90 of the ~180 bytes allocated per good outcome, each read of a count one more indirection.
 */
function small(v: number): number {
  const i = v | 0;
  return i === v ? i : v;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((v, i) => v === b[i]));
}
