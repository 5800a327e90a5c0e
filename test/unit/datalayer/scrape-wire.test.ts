// The worker thread's outcome batches carry a failure as its reason's index: every reason must come back as
// itself (the dispatch thread derives whether the endpoint was reachable from it). Batches are sent when full or
// when their oldest outcome's window is over, and the dispatch thread reads what arrived a bounded number at a
// time, in arrival order, a batch possibly in parts.
import { describe, expect, it } from 'vitest';
import { SCRAPE_FAILURE_REASONS, isUnreachableReason } from '../../../src/datalayer/index.js';
import { type ScrapeOutcome } from '../../../src/datalayer/metrics-scraper.js';
import {
  BATCH_MAX,
  BATCH_WINDOW_MS,
  OutcomeBacklog,
  OutcomeBatchReader,
  OutcomeBatchWriter,
} from '../../../src/datalayer/scrape-wire.js';

/** A good outcome whose figures name it: waiting = n. */
function good(n: number): ScrapeOutcome {
  return { ok: true, metrics: { waitingQueue: n, runningRequests: 1, kvCacheUsage: 0.5, loraRunning: [], loraWaiting: [], maxLora: 0 }, startedAt: n, finishedAt: n + 1 };
}

/** A batch of outcomes for slots `from`..`to - 1`, each with waiting = its slot. */
function batchOf(from: number, to: number): ReturnType<OutcomeBatchWriter['take']> {
  const writer = new OutcomeBatchWriter(0);
  for (let slot = from; slot < to; slot++) writer.add(slot, good(slot));
  return writer.take();
}

function pushBatch(backlog: OutcomeBacklog, from: number, to: number): void {
  const { nums, extras } = batchOf(from, to);
  backlog.push(nums, extras);
}

describe('scrape outcome wire format', () => {
  it('round-trips every failure reason', () => {
    const writer = new OutcomeBatchWriter(1_000);
    SCRAPE_FAILURE_REASONS.forEach((reason, slot) => {
      writer.add(slot, { ok: false, reason, detail: `d-${reason}`, startedAt: 1, finishedAt: 2 });
    });
    const { nums, extras } = writer.take();
    const read: [number, ScrapeOutcome][] = [];
    new OutcomeBatchReader().read(nums, extras, -1_000, (slot, outcome) => read.push([slot, outcome]));
    expect(read).toEqual(
      SCRAPE_FAILURE_REASONS.map((reason, slot) => [
        slot,
        { ok: false, reason, detail: `d-${reason}`, startedAt: 1, finishedAt: 2 },
      ]),
    );
  });

  it("counts a connect timeout as unreachable and a slow page on an accepted connection ('slow') as not", () => {
    expect(isUnreachableReason('timeout')).toBe(true);
    expect(isUnreachableReason('connect')).toBe(true);
    expect(isUnreachableReason('reset')).toBe(true);
    expect(isUnreachableReason('slow')).toBe(false);
  });

  it('a batch is due once it holds BATCH_MAX outcomes, or once its oldest is BATCH_WINDOW_MS old, not before', () => {
    const writer = new OutcomeBatchWriter(0);
    expect(writer.due(100)).toBe(false);
    writer.add(1, good(1), 100);
    expect(writer.due(100)).toBe(false);
    expect(writer.msUntilDue(100)).toBe(BATCH_WINDOW_MS);
    writer.add(2, good(2), 100 + BATCH_WINDOW_MS / 2);
    // The window runs from the first outcome, not the latest.
    expect(writer.msUntilDue(100 + BATCH_WINDOW_MS / 2)).toBe(BATCH_WINDOW_MS / 2);
    expect(writer.due(100 + BATCH_WINDOW_MS / 2)).toBe(false);
    expect(writer.due(100 + BATCH_WINDOW_MS)).toBe(true);
    writer.take();
    // A new batch's window starts at its own first outcome.
    writer.add(3, good(3), 200);
    expect(writer.due(200 + BATCH_WINDOW_MS / 2)).toBe(false);
    for (let slot = 4; writer.size < BATCH_MAX - 1; slot++) writer.add(slot, good(slot), 200);
    expect(writer.due(200)).toBe(false);
    writer.add(999, good(999), 200);
    expect(writer.size).toBe(BATCH_MAX);
    expect(writer.due(200)).toBe(true);
  });

  it('reads a batch in parts (from, to) exactly as it reads it whole', () => {
    const { nums, extras } = batchOf(0, 10);
    const whole: [number, ScrapeOutcome][] = [];
    new OutcomeBatchReader().read(nums, extras, 5, (slot, outcome) => whole.push([slot, outcome]));
    const parts: [number, ScrapeOutcome][] = [];
    const reader = new OutcomeBatchReader();
    for (const [from, to] of [[0, 3], [3, 4], [4, 4], [4, 10], [10, 12]] as const) {
      reader.read(nums, extras, 5, (slot, outcome) => parts.push([slot, outcome]), from, to);
    }
    expect(parts).toEqual(whole);
    expect(whole.map(([slot]) => slot)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('the backlog gives every outcome once, in arrival order, at most `budget` per read, batches read in parts', () => {
    const backlog = new OutcomeBacklog();
    const reader = new OutcomeBatchReader();
    pushBatch(backlog, 0, 5);
    pushBatch(backlog, 5, 5); // empty: nothing to wait for
    pushBatch(backlog, 5, 12);
    pushBatch(backlog, 12, 13);
    const reads: number[][] = [];
    while (backlog.pending) {
      const slots: number[] = [];
      const n = backlog.read(reader, 0, (slot) => slots.push(slot), 4);
      expect(n).toBe(slots.length);
      reads.push(slots);
    }
    expect(reads).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12]]);
    expect(backlog.read(reader, 0, () => undefined, 4)).toBe(0);
    // Cleared, nothing is left to read.
    pushBatch(backlog, 0, 3);
    backlog.clear();
    expect(backlog.pending).toBe(false);
  });
});
