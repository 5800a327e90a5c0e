import { describe, expect, it } from 'vitest';
import { type EndpointSpec, StaticEndpointSource } from '../../../src/datalayer/index.js';

describe('StaticEndpointSource', () => {
  it('delivers the list on subscribe and after set(); unsubscribe stops delivery', () => {
    const source = new StaticEndpointSource([{ host: 'a', port: 1 }]);
    const seen: (readonly EndpointSpec[])[] = [];
    const unsubscribe = source.subscribe((list) => seen.push(list));
    source.set([{ host: 'b', port: 2, labels: { role: 'decode' } }]);
    unsubscribe();
    source.set([]);
    expect(seen.map((l) => l.map((e) => `${e.host}:${e.port}`))).toEqual([['a:1'], ['b:2']]);
    expect(seen[1]?.[0]?.labels).toEqual({ role: 'decode' });
  });

  it.each([
    [[{ host: '', port: 1 }], /endpoints\[0\]\.host/],
    [[{ host: 'a', port: 0 }], /endpoints\[0\]\.port/],
    [[{ host: 'a', port: 70000 }], /endpoints\[0\]\.port/],
    [[{ host: 'a', port: 1, metricsPath: 'metrics' }], /metricsPath/],
    [[{ host: 'a', port: 1 }, { host: 'a', port: 1 }], /unique/],
  ])('rejects invalid lists with a coded error naming the field (%#)', (list, message) => {
    expect(() => new StaticEndpointSource(list)).toThrow(message);
  });

  it('rejects an unknown engine', () => {
    const bad = [{ host: 'a', port: 1, engine: 'tgi' }] as unknown as EndpointSpec[];
    expect(() => new StaticEndpointSource(bad)).toThrow(/engine/);
  });
});
