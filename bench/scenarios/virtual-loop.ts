// Virtual-time driver: advances a ManualClock event by event and lets microtasks (flow-control dispatch cycles,
// promise continuations) run after each instant, so the production components behave as on a real event loop.
import { type ManualClock } from '../../src/core/index.js';

/** Runs every pending microtask and promise continuation (and anything they queue) before returning. */
export function flushMicrotasks(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Fires timers in deadline order up to `endMs` (or until `done()` is true), flushing microtasks after every
 * distinct instant. Returns the virtual time reached.
 */
export async function runUntil(clock: ManualClock, endMs: number, done: () => boolean = () => false): Promise<number> {
  for (;;) {
    await flushMicrotasks();
    if (done()) return clock.now();
    const due = clock.nextDue();
    if (due === undefined || due > endMs) break;
    clock.advanceTo(due);
  }
  if (Number.isFinite(endMs) && clock.now() < endMs) clock.advanceTo(endMs);
  await flushMicrotasks();
  return clock.now();
}
