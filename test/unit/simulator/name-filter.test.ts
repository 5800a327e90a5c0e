// The simulator's name[] filter, as prometheus_client restricts a registry: by sample name, families with their
// HELP/TYPE lines, blank values ignored.
import { describe, expect, it } from 'vitest';
import { nameQuery } from '../../../src/datalayer/metrics-fetcher.js';
import { requestedNames, restrictExposition } from '../../../src/simulator/name-filter.js';

const PAGE = `# HELP a_gauge A gauge.
# TYPE a_gauge gauge
a_gauge{x="1"} 1
a_gauge{x="2"} 2
# HELP h Latency.
# TYPE h histogram
h_bucket{le="1.0"} 3
h_bucket{le="+Inf"} 4
h_count 4
h_sum 2.5
# HELP c_total Count.
# TYPE c_total counter
c_total 7
`;

describe('name[] filter of a simulated page', () => {
  it('keeps the named samples with their family header and drops families with none kept', () => {
    expect(restrictExposition(PAGE, new Set(['a_gauge', 'c_total']))).toBe(
      '# HELP a_gauge A gauge.\n# TYPE a_gauge gauge\na_gauge{x="1"} 1\na_gauge{x="2"} 2\n# HELP c_total Count.\n# TYPE c_total counter\nc_total 7\n',
    );
  });

  it('matches sample names, not family names: a histogram family name alone selects nothing, _count selects its line', () => {
    expect(restrictExposition(PAGE, new Set(['h']))).toBe('');
    expect(restrictExposition(PAGE, new Set(['h_count']))).toBe('# HELP h Latency.\n# TYPE h histogram\nh_count 4\n');
  });

  it('reads name[] from a query, encoded or not, ignoring blank values and other parameters', () => {
    expect(requestedNames('/metrics')).toBeUndefined();
    expect(requestedNames('/metrics?name[]=')).toBeUndefined();
    expect(requestedNames('/metrics?x=1')).toBeUndefined();
    expect([...(requestedNames('/metrics?name%5B%5D=vllm%3Aa&name[]=vllm:b&name[]=&y=2') ?? [])]).toEqual(['vllm:a', 'vllm:b']);
  });

  it('what the scraper sends reads back as the names it asked for, after a query the path already has', () => {
    const names = ['vllm:num_requests_waiting', 'odd name&=?'];
    expect(nameQuery('/metrics', names)).toBe('?name%5B%5D=vllm:num_requests_waiting&name%5B%5D=odd%20name%26%3D%3F');
    expect([...(requestedNames(`/metrics${nameQuery('/metrics', names)}`) ?? [])]).toEqual(names);
    const withQuery = `/metrics?tenant=a${nameQuery('/metrics?tenant=a', names)}`;
    expect(withQuery.startsWith('/metrics?tenant=a&name%5B%5D=')).toBe(true);
    expect([...(requestedNames(withQuery) ?? [])]).toEqual(names);
  });
});
