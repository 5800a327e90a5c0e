import { describe, expect, it } from 'vitest';
import { AdaptiveInterval, type EndpointMetrics } from '../../../src/datalayer/index.js';

function metrics(waiting: number, running: number, kv: number): EndpointMetrics {
  return { waitingQueue: waiting, runningRequests: running, kvCacheUsage: kv, loraRunning: [], loraWaiting: [], maxLora: 0 };
}

const IDLE = metrics(0, 0, 0);
const BUSY = metrics(0, 12, 0.4);
const QUEUEING = metrics(3, 32, 0.5);
const KV_FULL = metrics(0, 20, 0.85);

describe('AdaptiveInterval', () => {
  it('near saturation (queueing or KV near full) drops to the minimum at once', () => {
    const a = new AdaptiveInterval(50, { minIntervalMs: 20, maxIntervalMs: 150 });
    expect(a.next(QUEUEING)).toBe(20);
    expect(a.next(BUSY)).toBe(50);
    expect(a.next(KV_FULL)).toBe(20);
  });

  it('idle stretches the interval by half per idle scrape up to the maximum; work brings it back to the base', () => {
    const a = new AdaptiveInterval(50, { minIntervalMs: 20, maxIntervalMs: 150 });
    expect([a.next(IDLE), a.next(IDLE), a.next(IDLE), a.next(IDLE), a.next(IDLE)]).toEqual([75, 112.5, 150, 150, 150]);
    expect(a.next(BUSY)).toBe(50);
    expect(a.next(IDLE)).toBe(75);
    expect(a.next(QUEUEING)).toBe(20);
    // From the minimum, idleness starts again from the base, not from 20 * 1.5.
    expect(a.next(IDLE)).toBe(50);
    a.reset();
    expect(a.next(IDLE)).toBe(75);
  });

  it('refuses bounds that do not contain the base interval, and a KV threshold outside (0, 1]', () => {
    expect(() => new AdaptiveInterval(50, { minIntervalMs: 60, maxIntervalMs: 150 })).toThrow(/minIntervalMs/);
    expect(() => new AdaptiveInterval(50, { minIntervalMs: 20, maxIntervalMs: 40 })).toThrow(/maxIntervalMs/);
    expect(() => new AdaptiveInterval(50, { minIntervalMs: 20, maxIntervalMs: 100, kvNearFull: 1.5 })).toThrow(/kvNearFull/);
  });
});
