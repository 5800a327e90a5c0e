import { describe, expect, it } from 'vitest';
import { type Clock, ManualClock, noopLogger } from '../../../src/core/index.js';
import { type FlowRequest, type Outcome, type OutcomeCallback } from '../../../src/flowcontrol/index.js';
import { Outbox } from '../../../src/flowcontrol/outbox.js';

/** A clock whose deferred calls wait for `turn()`, like setImmediate callbacks wait for the next loop turn. */
class TurnClock extends ManualClock implements Clock {
  private queued: (() => void)[] = [];

  override defer(fn: () => void): void {
    this.queued.push(fn);
  }

  turn(): void {
    const due = this.queued;
    this.queued = [];
    for (const fn of due) fn();
  }
}

const request: FlowRequest = { id: 'r', fairnessId: 't', priority: 0, byteSize: 1, estimatedCost: 1 };
const rejected: Outcome = { kind: 'rejected', reason: 'capacity', message: 'full' };

describe('Outbox', () => {
  it('delivers in posting order once the outermost operation ends, never inside it', () => {
    const outbox = new Outbox(new TurnClock(), noopLogger, 100, () => {});
    const seen: number[] = [];
    outbox.enter();
    outbox.post(() => seen.push(1), rejected, request);
    outbox.enter();
    outbox.post(() => seen.push(2), rejected, request);
    outbox.leave();
    expect(seen).toEqual([]);
    outbox.leave();
    expect(seen).toEqual([1, 2]);
  });

  it('holds no more than the pending outcomes plus one run while chains of callbacks keep it from ever running empty', () => {
    const clock = new TurnClock();
    const budget = 64;
    const outbox = new Outbox(clock, noopLogger, budget, () => {});
    let delivered = 0;
    let maxHeld = 0;
    // Four callers, each posting its next outcome from inside the previous one's callback.
    const next: OutcomeCallback = () => {
      delivered++;
      maxHeld = Math.max(maxHeld, outbox.held);
      outbox.enter();
      outbox.post(next, rejected, request);
      outbox.leave();
    };
    outbox.enter();
    for (let c = 0; c < 4; c++) outbox.post(next, rejected, request);
    outbox.leave();
    for (let turn = 0; turn < 500; turn++) clock.turn();
    expect(delivered).toBe(501 * budget);
    expect(outbox.pending).toBe(4);
    expect(maxHeld).toBeLessThanOrEqual(budget + 4);
  });

  it('defers past its budget to the next turn, and a leave(all) delivers everything posted so far at once', () => {
    const clock = new TurnClock();
    const outbox = new Outbox(clock, noopLogger, 3, () => {});
    let n = 0;
    outbox.enter();
    for (let i = 0; i < 10; i++) outbox.post(() => n++, rejected, request);
    outbox.leave();
    expect(n).toBe(3);
    clock.turn();
    expect(n).toBe(6);
    outbox.enter();
    outbox.leave(true);
    expect(n).toBe(10);
    clock.turn();
    expect(n).toBe(10);
  });

  it('tells when everything posted has been delivered', () => {
    const clock = new TurnClock();
    let empties = 0;
    const outbox = new Outbox(clock, noopLogger, 2, () => empties++);
    outbox.enter();
    for (let i = 0; i < 3; i++) outbox.post(() => {}, rejected, request);
    outbox.leave();
    expect(empties).toBe(0);
    clock.turn();
    expect(empties).toBe(1);
    expect(outbox.pending).toBe(0);
  });
});
