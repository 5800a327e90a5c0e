import { describe, expect, it } from 'vitest';
import { destinationMetadata, readServedEndpoint, readSubsetHint, splitEndpoints } from '../../../src/extproc/metadata.js';
import { type FilterMetadata } from '../../../src/extproc/processing-request.js';

const list = (...values: string[]) => ({ listValue: { values: values.map((v) => ({ stringValue: v })) } });

describe('metadata', () => {
  it('reads the subset hint list, absent as undefined, empty as []', () => {
    const md: FilterMetadata = new Map([
      ['envoy.lb.subset_hint', { fields: { 'x-gateway-destination-endpoint-subset': list('10.0.0.1:80', '[fd00::1]:80') } }],
    ]);
    expect(readSubsetHint(md)).toEqual(['10.0.0.1:80', '[fd00::1]:80']);
    expect(readSubsetHint(undefined)).toBeUndefined();
    expect(readSubsetHint(new Map([['envoy.lb', { fields: {} }]]))).toBeUndefined();
    expect(
      readSubsetHint(new Map([['envoy.lb.subset_hint', { fields: { 'x-gateway-destination-endpoint-subset': list() } }]])),
    ).toEqual([]);
  });

  it('accepts a comma-separated string hint', () => {
    const md: FilterMetadata = new Map([
      ['envoy.lb.subset_hint', { fields: { 'x-gateway-destination-endpoint-subset': { stringValue: 'a:1, b:2,' } } }],
    ]);
    expect(readSubsetHint(md)).toEqual(['a:1', 'b:2']);
  });

  it('reads the served endpoint', () => {
    const md: FilterMetadata = new Map([
      ['envoy.lb', { fields: { 'x-gateway-destination-endpoint-served': { stringValue: '10.0.0.3:8000' } } }],
    ]);
    expect(readServedEndpoint(md)).toBe('10.0.0.3:8000');
    expect(readServedEndpoint(new Map())).toBeUndefined();
  });

  it('builds envoy.lb dynamic metadata', () => {
    expect(destinationMetadata('a:1,b:2')).toEqual({
      fields: { 'envoy.lb': { structValue: { fields: { 'x-gateway-destination-endpoint': { stringValue: 'a:1,b:2' } } } } },
    });
  });

  it('splits endpoint lists', () => {
    expect(splitEndpoints(' [::1]:80 ,, 1.2.3.4:5 ')).toEqual(['[::1]:80', '1.2.3.4:5']);
  });
});
