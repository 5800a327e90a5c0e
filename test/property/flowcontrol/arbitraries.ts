// fast-check generators of flow-control traces.
import fc from 'fast-check';
import { type TraceStep } from '../../support/flow-harness.js';

export const PRIORITIES = [-2, -1, 0, 3, 10] as const;

export const arriveStep = (tenants = 5): fc.Arbitrary<TraceStep> =>
  fc.record({
    op: fc.constant('arrive' as const),
    tenant: fc.integer({ min: 0, max: tenants - 1 }),
    priority: fc.constantFrom(...PRIORITIES),
    cost: fc.integer({ min: 1, max: 2_000 }),
    bytes: fc.integer({ min: 0, max: 5_000 }),
    ttlMs: fc.option(fc.integer({ min: 1, max: 3_000 }), { nil: undefined }),
    cancellable: fc.boolean(),
  });

export const traceStep = (tenants = 5): fc.Arbitrary<TraceStep> =>
  fc.oneof(
    { weight: 6, arbitrary: arriveStep(tenants) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('limit' as const), limit: fc.integer({ min: 1, max: 8 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('release' as const),
        pick: fc.nat(),
        actual: fc.option(fc.integer({ min: 0, max: 4_000 }), { nil: undefined }),
      }),
    },
  );

export const trace = (maxLength = 120, tenants = 5): fc.Arbitrary<TraceStep[]> =>
  fc.array(traceStep(tenants), { minLength: 1, maxLength, size: 'max' });
