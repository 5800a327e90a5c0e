import { describe, expect, it } from 'vitest';
import { InflightTracker } from '../../../src/datalayer/index.js';
import { createSaturationDetectorRegistry } from '../../../src/saturation/index.js';
import { StaticPool } from '../../support/static-pool.js';

describe('detector settings', () => {
  const deps = { pool: new StaticPool([]), inflight: new InflightTracker() };
  const registry = createSaturationDetectorRegistry();

  it('report the effective settings: configured values over the defaults, absent limits left out', () => {
    expect(registry.get('utilization')(deps, { kvThreshold: 0.9 }).settings()).toEqual({
      queueThreshold: 5,
      kvThreshold: 0.9,
      stalenessMs: 200,
      aggregation: 'headroom',
    });
    expect(registry.get('concurrency')(deps, { maxRequests: 32, mode: 'both' }).settings()).toEqual({
      maxRequests: 32,
      maxTokens: 1_000_000,
      mode: 'both',
      aggregation: 'headroom',
    });
    expect(registry.get('hybrid')(deps, { maxRequests: 32, aggregation: 'mean' }).settings()).toEqual({
      queueThreshold: 5,
      kvThreshold: 0.9,
      stalenessMs: 200,
      aggregation: 'mean',
      unseenRequestWeight: 1,
      unseenTokenWeight: 1,
      queuedTokenWeight: 1,
      finishedRequestCredit: 1,
      maxRequests: 32,
      slotLimit: 'learned',
      maxNumBatchedTokens: 2_048,
    });
    expect(registry.get('hybrid')(deps, { maxNumBatchedTokens: 8_192 }).settings()).toMatchObject({ maxNumBatchedTokens: 8_192 });
    expect(registry.get('hybrid')(deps, { slotLimit: 256 }).settings()).toMatchObject({ slotLimit: 256 });
    expect(registry.get('hybrid')(deps, { learnSlotLimit: false }).settings()).toMatchObject({ slotLimit: 'off' });
  });
});
