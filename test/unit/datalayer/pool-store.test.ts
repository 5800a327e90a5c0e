import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { type EndpointMetrics, type PoolSnapshot, PoolStore } from '../../../src/datalayer/index.js';
import { RecordingLogger } from './fakes.js';

const M: EndpointMetrics = {
  waitingQueue: 1,
  runningRequests: 2,
  kvCacheUsage: 0.3,
  loraRunning: [],
  loraWaiting: [],
  maxLora: 0,
};

describe('PoolStore', () => {
  it('publishes a new frozen snapshot per change and never mutates an old one (copy-on-write)', () => {
    const clock = new ManualClock();
    const store = new PoolStore({ clock });
    const empty = store.current();
    const id = store.upsert({ host: '10.0.0.1', port: 8000, labels: { zone: 'a' } });
    const added = store.current();
    store.recordMetrics(id, M, 0);
    const scraped = store.current();
    expect(empty.endpoints).toEqual([]);
    expect(added.endpoints[0]).toMatchObject({ id: '10.0.0.1:8000', stale: true, metrics: undefined });
    expect(scraped.endpoints[0]).toMatchObject({ stale: false, metrics: M, scrapedAt: 0, labels: { zone: 'a' } });
    expect([empty.version, added.version, scraped.version]).toEqual([0, 1, 2]);
    expect(Object.isFrozen(scraped)).toBe(true);
    expect(Object.isFrozen(scraped.endpoints)).toBe(true);
    expect(Object.isFrozen(scraped.endpoints[0])).toBe(true);
  });

  it('brackets IPv6 hosts in ids', () => {
    const store = new PoolStore({ clock: new ManualClock() });
    expect(store.upsert({ host: '::1', port: 9000 })).toBe('[::1]:9000');
  });

  it('upsert with identical labels publishes nothing; changed labels keep metrics', () => {
    const store = new PoolStore({ clock: new ManualClock() });
    const id = store.upsert({ host: 'h', port: 1, labels: { a: '1' } });
    store.recordMetrics(id, M, 0);
    const v = store.current().version;
    store.upsert({ host: 'h', port: 1, labels: { a: '1' } });
    expect(store.current().version).toBe(v);
    store.upsert({ host: 'h', port: 1, labels: { a: '2' } });
    expect(store.current().endpoints[0]).toMatchObject({ labels: { a: '2' }, metrics: M, stale: false });
  });

  it('marks an endpoint stale when its metrics age reaches staleAfterMs, and fresh again on the next scrape', () => {
    const clock = new ManualClock();
    const store = new PoolStore({ clock, staleAfterMs: 200 });
    const id = store.upsert({ host: 'h', port: 1 });
    store.recordMetrics(id, M, 0);
    clock.advance(100);
    store.recordMetrics(id, M, 100); // timer still armed for t=200, re-arms for t=300
    clock.advance(150);
    expect(store.current().endpoints[0]?.stale).toBe(false);
    clock.advance(50);
    expect(store.current().endpoints[0]).toMatchObject({ stale: true, metrics: M, scrapedAt: 100 });
    store.recordMetrics(id, M, 300);
    expect(store.current().endpoints[0]?.stale).toBe(false);
  });

  it('a failed scrape marks stale at once but keeps the last good metrics', () => {
    const store = new PoolStore({ clock: new ManualClock() });
    const id = store.upsert({ host: 'h', port: 1 });
    store.recordMetrics(id, M, 0);
    store.recordFailure(id);
    expect(store.current().endpoints[0]).toMatchObject({ stale: true, metrics: M });
    const v = store.current().version;
    store.recordFailure(id); // already stale: no new snapshot
    expect(store.current().version).toBe(v);
  });

  it('one staleness timer serves the whole pool; close() clears it; results for unknown ids are ignored', () => {
    const clock = new ManualClock();
    const store = new PoolStore({ clock });
    const a = store.upsert({ host: 'a', port: 1 });
    const b = store.upsert({ host: 'b', port: 1 });
    store.recordMetrics(a, M, 0);
    store.recordMetrics(b, M, 0);
    expect(clock.pendingTimers()).toBe(1);
    expect(store.remove(a)).toBe(true);
    expect(store.remove(a)).toBe(false);
    store.recordMetrics(a, M, 1);
    expect(store.current().endpoints.map((e) => e.id)).toEqual(['b:1']);
    store.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('property: every endpoint turns stale exactly when its own metrics reach the limit, with at most one timer pending', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ endpoint: fc.nat(5), at: fc.integer({ min: 0, max: 600 }), fail: fc.boolean() }), { maxLength: 40 }),
        (count, events) => {
          const clock = new ManualClock();
          const store = new PoolStore({ clock, staleAfterMs: 100 });
          const ids = Array.from({ length: count }, (_, i) => store.upsert({ host: 'h', port: i + 1 }));
          const lastGood = new Map<string, number>();
          const failed = new Set<string>();
          const byTime = [...events].sort((x, y) => x.at - y.at);
          let next = 0;
          for (let now = 0; now <= 800; now++) {
            if (now > 0) clock.advance(1);
            for (; next < byTime.length && (byTime[next]?.at ?? Infinity) <= now; next++) {
              const e = byTime[next];
              const id = ids[(e?.endpoint ?? 0) % count] ?? '';
              if (e?.fail === true) {
                store.recordFailure(id, 'timeout');
                failed.add(id);
              } else {
                store.recordMetrics(id, M, now);
                lastGood.set(id, now);
                failed.delete(id);
              }
            }
            for (const ep of store.current().endpoints) {
              const at = lastGood.get(ep.id);
              const expected = failed.has(ep.id) || at === undefined || now - at >= 100;
              if (ep.stale !== expected) return false;
            }
            if (clock.pendingTimers() > 1) return false;
          }
          return true;
        },
      ),
      { seed: 14, numRuns: 60 },
    );
  });

  it('property: the published list holds the live endpoints in the order they were added, each with its newest state, whatever was added, removed or scraped', () => {
    type Op = { kind: 'upsert' | 'remove' | 'scrape' | 'fail'; port: number };
    const op = fc.record({ kind: fc.constantFrom<Op['kind']>('upsert', 'remove', 'scrape', 'fail'), port: fc.integer({ min: 1, max: 8 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.boolean(), (ops, batched) => {
        const clock = new ManualClock();
        const store = new PoolStore({ clock, staleAfterMs: 1e9 });
        // The reference: live ids in insertion order (a removed id added again goes last), and what each last saw.
        const live: string[] = [];
        const state = new Map<string, { scrapedAt: number | undefined; stale: boolean }>();
        const run = (): void => {
          for (const [k, { kind, port }] of ops.entries()) {
            const id = `h:${port}`;
            if (kind === 'upsert') {
              store.upsert({ host: 'h', port });
              if (!live.includes(id)) {
                live.push(id);
                state.set(id, { scrapedAt: undefined, stale: true });
              }
            } else if (kind === 'remove') {
              store.remove(id);
              if (live.includes(id)) live.splice(live.indexOf(id), 1);
            } else if (kind === 'scrape') {
              store.recordMetrics(id, M, k);
              if (live.includes(id)) state.set(id, { scrapedAt: k, stale: false });
            } else {
              store.recordFailure(id, 'timeout');
              const s = state.get(id);
              if (live.includes(id) && s !== undefined) state.set(id, { ...s, stale: true });
            }
          }
        };
        if (batched) store.batch(run);
        else run();
        const endpoints = store.current().endpoints;
        expect(endpoints.map((e) => e.id)).toEqual(live);
        for (const e of endpoints) expect({ scrapedAt: e.scrapedAt, stale: e.stale }).toEqual(state.get(e.id));
        expect(Object.isFrozen(endpoints)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('notifies subscribers with each snapshot; a throwing listener is logged and does not stop the others', () => {
    const logger = new RecordingLogger();
    const store = new PoolStore({ clock: new ManualClock(), logger });
    const seen: PoolSnapshot[] = [];
    store.subscribe(() => {
      throw new Error('boom');
    });
    const unsubscribe = store.subscribe((s) => seen.push(s));
    store.upsert({ host: 'h', port: 1 });
    unsubscribe();
    store.upsert({ host: 'h', port: 2 });
    expect(seen.map((s) => s.version)).toEqual([1]);
    expect(logger.lines('error')).toHaveLength(2);
  });
});
