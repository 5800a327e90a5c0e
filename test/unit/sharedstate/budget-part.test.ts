// The one reader of a cap's `held,demand,used` field, shared by the limits channel (its peers' parts) and the
// in-memory store (its grants): well-formed fields read back as written, anything else is refused.
import { describe, expect, it } from 'vitest';
import { parseBudgetPart } from '../../../src/sharedstate/index.js';

describe('parseBudgetPart', () => {
  it('reads held, demand and used as the replicas write them', () => {
    expect(parseBudgetPart('5,7,3')).toEqual({ held: 5, demand: 7, used: 3 });
    expect(parseBudgetPart('0,0,0')).toEqual({ held: 0, demand: 0, used: 0 });
    expect(parseBudgetPart('2.5,1e3,4')).toEqual({ held: 2.5, demand: 1000, used: 4 });
  });

  it('refuses a field that is not three finite numbers', () => {
    for (const bad of ['', '5', '5,7', '5,x,3', '5,7,Infinity', 'NaN,1,1']) expect(parseBudgetPart(bad)).toBeUndefined();
  });
});
