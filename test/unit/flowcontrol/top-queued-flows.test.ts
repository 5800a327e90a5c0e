import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock, ObserverFaults, noopLogger } from '../../../src/core/index.js';
import {
  FlowController,
  type FlowControlObserver,
  type FlowRequest,
  fanOutFlowControlObserver,
  noopFlowControlObserver,
} from '../../../src/flowcontrol/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { SettableSaturation } from '../../support/settable-saturation.js';

let nextId = 0;
const req = (fairnessId: string, priority: number): FlowRequest => ({ id: `r${nextId++}`, fairnessId, priority, byteSize: 1, estimatedCost: 1 });

describe('FlowController.topQueuedFlows', () => {
  it('property: returns the flows with the most queued requests across bands, longest first, for fair-share and reject bands', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ tenant: fc.nat(9), band: fc.nat(2) }), { maxLength: 120 }),
        fc.array(fc.nat(119), { maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        async (arrivals, cancels, limit) => {
          const saturation = new SettableSaturation(5);
          const controller = new FlowController({
            saturation,
            clock: new ManualClock(),
            bands: [
              { priority: 2, overflow: 'fair-share' },
              { priority: 1, overflow: 'reject' },
              { priority: 0, overflow: 'fair-share' },
            ],
          });
          const signals = arrivals.map(() => new AbortController());
          arrivals.forEach((a, i) => void controller.enqueueAndWait(req(`t${a.tenant}`, a.band), { signal: signals[i]!.signal }));
          for (const c of cancels) signals[c]?.abort();
          await flushMicrotasks(1);
          // The model: count what is still queued per (tenant, band).
          const counts = new Map<string, number>();
          arrivals.forEach((a, i) => {
            if (signals[i]!.signal.aborted) return;
            const key = `t${a.tenant}|${a.band}`;
            counts.set(key, (counts.get(key) ?? 0) + 1);
          });
          const top = controller.topQueuedFlows(limit);
          expect(top.length).toBe(Math.min(limit, counts.size));
          for (const f of top) expect(f.queuedRequests).toBe(counts.get(`${f.fairnessId}|${f.priority}`));
          for (let i = 1; i < top.length; i++) expect(top[i - 1]!.queuedRequests).toBeGreaterThanOrEqual(top[i]!.queuedRequests);
          const shown = new Set(top.map((f) => `${f.fairnessId}|${f.priority}`));
          const smallest = top.at(-1)?.queuedRequests ?? 0;
          for (const [key, n] of counts) if (!shown.has(key)) expect(n).toBeLessThanOrEqual(smallest);
          for (let t = 0; t < 10; t++) {
            const expected = [...counts].filter(([k]) => k.startsWith(`t${t}|`)).reduce((a, [, n]) => a + n, 0);
            expect(controller.queuedFor(`t${t}`)).toBe(expected);
          }
          await controller.close();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reports each band its oldest queued request and tells observers about queued (not fast-path) requests', async () => {
    const clock = new ManualClock(100);
    const saturation = new SettableSaturation(0);
    const queued: string[] = [];
    const observer: FlowControlObserver = { ...noopFlowControlObserver, onQueued: (p, id) => queued.push(`${id}@${p}`) };
    const controller = new FlowController({ saturation, clock, observer: fanOutFlowControlObserver({ observer, noop: noopFlowControlObserver }, new ObserverFaults(noopLogger)) });
    await controller.enqueueAndWait(req('fast', 0));
    saturation.set(2);
    void controller.enqueueAndWait(req('slow', 0));
    clock.advance(250);
    void controller.enqueueAndWait(req('later', 0));
    await flushMicrotasks();
    expect(queued).toEqual(['slow@0', 'later@0']);
    expect(controller.stats().bands.find((b) => b.priority === 0)?.oldestEnqueuedAt).toBe(100);
    expect(controller.topQueuedFlows(0)).toEqual([]);
    await controller.close();
    expect(controller.stats().bands.every((b) => b.oldestEnqueuedAt === undefined)).toBe(true);
  });
});
