// The worker thread's outcome batches carry a failure as its reason's index: every reason must come back as
// itself (the dispatch thread derives whether the endpoint was reachable from it). Batches are sent when full or
// when their oldest outcome's window is over, and the dispatch thread reads what arrived a bounded number at a
// time, in arrival order, a batch possibly in parts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { type ScrapeFailureReason, PoolStore, SCRAPE_FAILURE_REASONS, isUnreachableReason } from '../../../src/datalayer/index.js';
import { type ScrapeOutcome } from '../../../src/datalayer/metrics-scraper.js';
import {
  APPLY_PER_TURN,
  APPLY_STEP,
  APPLY_TURN_MS,
  BATCH_MAX,
  BATCH_WINDOW_MS,
  MERGE_ABOVE,
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

function pushBatch(backlog: OutcomeBacklog, from: number, to: number, reader = new OutcomeBatchReader()): void {
  const { nums, extras } = batchOf(from, to);
  backlog.push(nums, extras, reader, 0);
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
    pushBatch(backlog, 0, 5, reader);
    pushBatch(backlog, 5, 5, reader); // empty: nothing to wait for
    pushBatch(backlog, 5, 12, reader);
    pushBatch(backlog, 12, 13, reader);
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

  it('a turn reads APPLY_STEP at a time until APPLY_PER_TURN, or until APPLY_TURN_MS have passed after a step, and always at least one step', () => {
    const reader = new OutcomeBatchReader();
    // Each look at the clock after the first finds `cost` ms more: the time one step took.
    const turn = (backlog: OutcomeBacklog, cost: number): number[] => {
      let t = 0;
      const slots: number[] = [];
      backlog.readTurn(reader, 0, (slot) => slots.push(slot), () => (t += cost) - cost);
      return slots;
    };
    const fresh = (n: number): OutcomeBacklog => {
      const backlog = new OutcomeBacklog();
      pushBatch(backlog, 0, n, reader);
      return backlog;
    };
    // Fast steps: the count bounds the turn.
    expect(turn(fresh(100), 0)).toEqual(Array.from({ length: APPLY_PER_TURN }, (_, i) => i));
    // Steps of 0.4 of the time: the turn stops after the step that reached it (the third).
    expect(turn(fresh(100), APPLY_TURN_MS * 0.4).length).toBe(3 * APPLY_STEP);
    // A step longer than the whole time: still one step, never none.
    expect(turn(fresh(100), 10 * APPLY_TURN_MS)).toEqual(Array.from({ length: APPLY_STEP }, (_, i) => i));
    // Fewer waiting than a step: all of them; nothing waiting: nothing, and the clock is not the reason to stop.
    expect(turn(fresh(3), 10 * APPLY_TURN_MS)).toEqual([0, 1, 2]);
    expect(turn(new OutcomeBacklog(), 0)).toEqual([]);
    // The next turn goes on where the last stopped, in order.
    const backlog = fresh(20);
    expect([...turn(backlog, 10 * APPLY_TURN_MS), ...turn(backlog, 10 * APPLY_TURN_MS), ...turn(backlog, 0)]).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(backlog.pending).toBe(false);
  });

  it('stays bounded (MERGE_ABOVE plus two per slot) under a flood that the dispatch thread does not read, and then gives each slot its newest outcome', () => {
    const backlog = new OutcomeBacklog();
    const reader = new OutcomeBatchReader();
    const slots = 100;
    const writer = new OutcomeBatchWriter(0);
    let t = 0;
    let largest = 0;
    // 500 batches of BATCH_MAX (32,000 outcomes, 320 per slot) while the loop is held busy: nothing read.
    for (let b = 0; b < 500; b++) {
      for (let i = 0; i < BATCH_MAX; i++) {
        const slot = (b * BATCH_MAX + i) % slots;
        t++;
        // Every seventh a failure, the rest good, each naming its arrival (waiting = t).
        writer.add(slot, t % 7 === 0 ? { ok: false, reason: 'timeout', detail: 'x', startedAt: t, finishedAt: t } : { ...good(t), startedAt: t, finishedAt: t });
      }
      const { nums, extras } = writer.take();
      backlog.push(nums, extras, reader, 0);
      largest = Math.max(largest, backlog.size);
    }
    expect(largest).toBeLessThanOrEqual(MERGE_ABOVE + 2 * slots);
    const lastBySlot = new Map<number, number>();
    let emitted = 0;
    let superseded = 0;
    const reads: number[] = [];
    while (backlog.pending) {
      reads.push(
        backlog.read(
          reader,
          0,
          (slot, outcome) => {
            emitted++;
            lastBySlot.set(slot, outcome.finishedAt);
          },
          APPLY_PER_TURN,
          (_slot, _kind, n) => (superseded += n),
        ),
      );
    }
    // Every outcome accounted for once: applied or counted as superseded.
    expect(emitted + superseded).toBe(500 * BATCH_MAX);
    // Each slot ends on its newest outcome (the last of the flood for it).
    for (let slot = 0; slot < slots; slot++) expect(lastBySlot.get(slot)).toBe(500 * BATCH_MAX - slots + 1 + slot);
    // Drained within ceil(entries / budget) reads (each read may give one over the budget).
    expect(reads.length).toBeLessThanOrEqual(Math.ceil((2 * slots) / APPLY_PER_TURN) + 1);
    expect(Math.max(...reads)).toBeLessThanOrEqual(APPLY_PER_TURN + 1);
  });

  it('property: applying what the backlog gives (merged or not, read at any budget or by turns of any length) leaves the store as applying every outcome in order, keeps each slot\'s order, and counts every outcome once', () => {
    type Step =
      | { kind: 'outcome'; slot: number; ok: boolean; value: number; reason: ScrapeFailureReason }
      | { kind: 'send' }
      | { kind: 'read'; budget: number }
      | { kind: 'turn'; stepMs: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('outcome' as const), slot: fc.integer({ min: 1, max: 6 }), ok: fc.boolean(), value: fc.integer({ min: 0, max: 3 }), reason: fc.constantFrom(...SCRAPE_FAILURE_REASONS) }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'send' as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('read' as const), budget: fc.integer({ min: 1, max: 2 * APPLY_PER_TURN }) }) },
      // A loop turn (readTurn) whose steps each take stepMs on its clock: from far under to far over the turn's time.
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('turn' as const), stepMs: fc.double({ min: 0, max: 2 * APPLY_TURN_MS, noNaN: true }) }) },
    );
    let merges = 0;
    fc.assert(
      fc.property(fc.array(step, { maxLength: 600 }), fc.integer({ min: 0, max: 40 }), (steps, mergeAbove) => {
        const clock = new ManualClock();
        const expected = new PoolStore({ clock });
        const actual = new PoolStore({ clock });
        const ids = new Map<number, string>();
        for (let slot = 1; slot <= 6; slot++) {
          const id = expected.upsert({ host: '10.0.0.1', port: slot });
          actual.upsert({ host: '10.0.0.1', port: slot });
          ids.set(slot, id);
        }
        const apply = (store: PoolStore, slot: number, outcome: ScrapeOutcome): void => {
          const id = ids.get(slot) ?? '';
          if (outcome.ok) store.recordMetrics(id, outcome.metrics, outcome.finishedAt);
          else store.recordFailure(id, outcome.reason);
        };
        const writer = new OutcomeBatchWriter(0);
        const backlog = new OutcomeBacklog(mergeAbove);
        const reader = new OutcomeBatchReader();
        const sentBySlot = new Map<number, number[]>();
        const appliedBySlot = new Map<number, number[]>();
        const counts = { sentOk: 0, sentFailed: new Map<string, number>(), gotOk: 0, gotFailed: new Map<string, number>() };
        const bump = (m: Map<string, number>, k: string, n: number): void => void m.set(k, (m.get(k) ?? 0) + n);
        let seq = 0;
        const send = (): void => {
          const { nums, extras } = writer.take();
          backlog.push(nums, extras, reader, 0);
        };
        const emit = (slot: number, outcome: ScrapeOutcome): void => {
          appliedBySlot.set(slot, [...(appliedBySlot.get(slot) ?? []), outcome.startedAt]);
          if (outcome.ok) counts.gotOk++;
          else bump(counts.gotFailed, outcome.reason, 1);
          apply(actual, slot, outcome);
        };
        const superseded = (_slot: number, kind: 'ok' | ScrapeFailureReason, n: number): void => {
          merges += n;
          if (kind === 'ok') counts.gotOk += n;
          else bump(counts.gotFailed, kind, n);
        };
        const read = (budget: number): void => {
          actual.batch(() => backlog.read(reader, 0, emit, budget, superseded));
        };
        const turn = (stepMs: number): void => {
          let t = 0;
          actual.batch(() => backlog.readTurn(reader, 0, emit, () => (t += stepMs) - stepMs, superseded));
        };
        for (const s of steps) {
          if (s.kind === 'send') send();
          else if (s.kind === 'read') read(s.budget);
          else if (s.kind === 'turn') turn(s.stepMs);
          else {
            seq++;
            const outcome: ScrapeOutcome = s.ok
              ? { ok: true, metrics: { waitingQueue: s.value, runningRequests: seq % 2, kvCacheUsage: 0.25, loraRunning: s.value > 1 ? ['a'] : [], loraWaiting: [], maxLora: 1 }, startedAt: seq, finishedAt: seq + 0.5 }
              : { ok: false, reason: s.reason, detail: 'd', startedAt: seq, finishedAt: seq + 0.5 };
            writer.add(s.slot, outcome);
            // The reference: every outcome applied in order, as it comes.
            apply(expected, s.slot, outcome);
            sentBySlot.set(s.slot, [...(sentBySlot.get(s.slot) ?? []), seq]);
            if (s.ok) counts.sentOk++;
            else bump(counts.sentFailed, s.reason, 1);
            // Small batches so that merging (beyond MERGE_ABOVE waiting) happens often.
            if (writer.size >= 8) send();
          }
        }
        send();
        while (backlog.pending) read(APPLY_PER_TURN);
        expect(actual.current().endpoints).toEqual(expected.current().endpoints);
        expect(counts.gotOk).toBe(counts.sentOk);
        expect(counts.gotFailed).toEqual(counts.sentFailed);
        for (const [slot, sent] of sentBySlot) {
          const applied = appliedBySlot.get(slot) ?? [];
          // In order, each at most once, a subsequence of what was sent, ending with the newest.
          expect(applied.every((t, i) => i === 0 || t > (applied[i - 1] ?? 0))).toBe(true);
          expect(applied.every((t) => sent.includes(t))).toBe(true);
          expect(applied.at(-1)).toBe(sent.at(-1));
        }
      }),
      { numRuns: 200 },
    );
    // The runs did merge (the property is not proven on the unmerged path alone).
    expect(merges).toBeGreaterThan(0);
  });
});
