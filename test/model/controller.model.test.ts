// Model-based test: the controller (global-strict fairness, fcfs, strict bands) against a small reference model
// written as plainly as possible: one list, sorted by (priority desc, arrival), scanned in full each time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowHarness, type TraceStep } from '../support/flow-harness.js';
import { trace } from '../property/flowcontrol/arbitraries.js';

interface ModelRequest {
  index: number;
  priority: number;
  bytes: number;
  expiresAt: number;
  cancellable: boolean;
  outcome: string | undefined;
  leased: boolean;
}

const MAX_QUEUED = 6;
const DEFAULT_TTL = 2_000;

class ReferenceModel {
  now = 0;
  limit = 4;
  inflight = 0;
  readonly all: ModelRequest[] = [];
  readonly dispatchOrder: number[] = [];

  private queued(): ModelRequest[] {
    return this.all.filter((r) => r.outcome === undefined);
  }

  apply(s: TraceStep): void {
    switch (s.op) {
      case 'arrive': {
        const r: ModelRequest = {
          index: this.all.length,
          priority: s.priority,
          bytes: s.bytes,
          expiresAt: this.now + Math.min(DEFAULT_TTL, s.ttlMs ?? Infinity),
          cancellable: s.cancellable,
          outcome: undefined,
          leased: false,
        };
        const queued = this.queued();
        this.all.push(r);
        if (queued.length + 1 > MAX_QUEUED) {
          const lower = queued
            .filter((q) => q.priority < r.priority)
            .sort((a, b) => a.priority - b.priority || b.index - a.index);
          const victim = lower[0];
          if (victim === undefined) {
            r.outcome = 'rejected:capacity';
            break;
          }
          victim.outcome = 'evicted:displaced';
        }
        break;
      }
      case 'cancel': {
        const pending = this.all.filter((r) => r.outcome === undefined && r.cancellable);
        const victim = pending[s.pick % Math.max(1, pending.length)];
        if (victim !== undefined) victim.outcome = 'evicted:cancelled';
        break;
      }
      case 'advance':
        this.now += s.ms;
        for (const r of this.queued()) if (r.expiresAt <= this.now) r.outcome = 'evicted:ttl';
        break;
      case 'limit':
        this.limit = s.limit;
        break;
      case 'release': {
        const live = this.all.filter((r) => r.leased);
        const victim = live[s.pick % Math.max(1, live.length)];
        if (victim !== undefined) {
          victim.leased = false;
          this.inflight--;
        }
        break;
      }
    }
    this.dispatch();
  }

  private dispatch(): void {
    for (;;) {
      if (this.inflight >= this.limit) return;
      const next = this.queued().sort((a, b) => b.priority - a.priority || a.index - b.index)[0];
      if (next === undefined) return;
      next.outcome = 'dispatched';
      next.leased = true;
      this.inflight++;
      this.dispatchOrder.push(next.index);
    }
  }
}

describe('controller against a reference model', () => {
  it('matches the model step by step: same dispatch order, same outcome for every request', async () => {
    await fc.assert(
      fc.asyncProperty(trace(100), async (steps) => {
        const h = new FlowHarness({
          maxQueuedRequests: MAX_QUEUED,
          defaultTtlMs: DEFAULT_TTL,
          bandTemplate: { fairness: 'global-strict', ordering: 'fcfs' },
        });
        const model = new ReferenceModel();
        for (const s of steps) {
          await h.step(s);
          model.apply(s);
          expect(h.dispatches.map((d) => d.index)).toEqual(model.dispatchOrder);
          expect(h.fc.stats().queuedRequests).toBe(model.all.filter((r) => r.outcome === undefined).length);
        }
        const outcome = (i: number) => {
          const o = h.submitted[i]?.outcomes[0];
          return o === undefined ? undefined : o.kind === 'dispatched' ? 'dispatched' : `${o.kind}:${o.reason}`;
        };
        expect(model.all.map((r) => outcome(r.index))).toEqual(model.all.map((r) => r.outcome));
        await h.close();
      }),
      { numRuns: 150 },
    );
  });
});
