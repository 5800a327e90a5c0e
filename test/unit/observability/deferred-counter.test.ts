// DeferredCounter: what a scrape of the registry shows equals what direct prom-client incs would have shown.
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DeferredCounter } from '../../../src/observability/deferred-counter.js';

function counterOf(registry: Registry, onCollect?: () => void): Counter<'a' | 'b'> {
  return new Counter({
    name: 'x_total',
    help: 'x',
    labelNames: ['a', 'b'],
    registers: [registry],
    collect() {
      onCollect?.();
    },
  });
}

async function values(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetricAsString('x_total');
  const out: Record<string, number> = {};
  for (const line of metric.split('\n')) {
    const m = /^x_total\{a="([^"]*)",b="([^"]*)"\} (\S+)$/.exec(line);
    if (m !== null) out[`${m[1]}/${m[2]}`] = Number(m[3]);
  }
  return out;
}

describe('DeferredCounter', () => {
  it('shows at each scrape exactly what direct inc calls show', async () => {
    const direct = new Registry();
    const viaCache = new Registry();
    const plain = counterOf(direct);
    const deferred: DeferredCounter<'a' | 'b'> = new DeferredCounter(counterOf(viaCache, () => deferred.flush()), ['a', 'b']);
    const steps: [string, string, number][] = [
      ['m', 'x', 1],
      ['m', 'y', 2.5],
      ['n', 'x', 1],
      ['m', 'x', 4],
      ['', '', 1],
    ];
    for (const [i, [a, b, by]] of steps.entries()) {
      plain.inc({ a, b }, by);
      deferred.inc([a, b], by);
      // A scrape between incs, and the series keep adding up after it.
      if (i === 2) expect(await values(viaCache)).toEqual(await values(direct));
    }
    expect(await values(viaCache)).toEqual({ 'm/x': 5, 'm/y': 2.5, 'n/x': 1, '/': 1 });
    expect(await values(viaCache)).toEqual(await values(direct));
  });

  it('keeps at most maxSeries cached: past it the totals are handed over and the cache starts again, losing nothing', async () => {
    const registry = new Registry();
    const deferred: DeferredCounter<'a' | 'b'> = new DeferredCounter(counterOf(registry, () => deferred.flush()), ['a', 'b'], 3);
    for (let round = 0; round < 2; round++) {
      for (let tenant = 0; tenant < 10; tenant++) {
        deferred.inc([`t${tenant}`, 'x'], 1);
        expect(deferred.cached).toBeLessThanOrEqual(3);
      }
    }
    const seen = await values(registry);
    expect(Object.keys(seen)).toHaveLength(10);
    for (let tenant = 0; tenant < 10; tenant++) expect(seen[`t${tenant}/x`]).toBe(2);
  });

  it('refuses a negative or non-finite increment at the call, not at the next scrape', () => {
    const deferred = new DeferredCounter(counterOf(new Registry()), ['a', 'b']);
    expect(() => deferred.inc(['m', 'x'], -1)).toThrow(/decrease/);
    expect(() => deferred.inc(['m', 'x'], Number.POSITIVE_INFINITY)).toThrow(/not a valid number/);
    expect(() => deferred.inc(['m', 'x'], Number.NaN)).toThrow(/not a valid number/);
  });
});
