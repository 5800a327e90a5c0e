// Compatibility check against the Go reference's utilization-detector vectors (llm-d-router
// saturationdetector/utilization detector_test.go: thresholds queue 5, KV 0.9, staleness 100 ms).
// Per-endpoint scores and the `mean` aggregation must match exactly; `headroom` (our default) differs only
// where one hot endpoint would have blocked a pool with room.
import { describe, expect, it } from 'vitest';
import { type Aggregation, UtilizationDetector } from '../../../src/saturation/index.js';
import { type EndpointState, poolOf } from './pool-fixture.js';

const GO_CONFIG = { queueThreshold: 5, kvThreshold: 0.9, stalenessMs: 100 };

interface Vector {
  readonly name: string;
  readonly pods: readonly EndpointState[];
  readonly perEndpoint: readonly number[];
  /** The Go reference's pool figure (mean). */
  readonly mean: number;
  /** Ours. */
  readonly headroom: number;
}

const VECTORS: readonly Vector[] = [
  { name: 'no candidate pods fails closed', pods: [], perEndpoint: [], mean: 1, headroom: 1 },
  {
    name: 'single pod with good capacity: max(2/5, 0.5/0.9)',
    pods: [{ waiting: 2, kv: 0.5, ageMs: 0 }],
    perEndpoint: [0.5 / 0.9],
    mean: 0.5 / 0.9,
    headroom: 0.5 / 0.9,
  },
  { name: 'single pod with stale metrics', pods: [{ waiting: 1, kv: 0.1, ageMs: 200 }], perEndpoint: [1], mean: 1, headroom: 1 },
  { name: 'single pod with high queue depth', pods: [{ waiting: 10, kv: 0.1, ageMs: 0 }], perEndpoint: [2], mean: 2, headroom: 2 },
  {
    name: 'single pod with high KV cache utilization',
    pods: [{ waiting: 1, kv: 0.95, ageMs: 0 }],
    perEndpoint: [0.95 / 0.9],
    mean: 0.95 / 0.9,
    headroom: 0.95 / 0.9,
  },
  { name: 'single pod with nil metrics', pods: [{ waiting: 0, kv: 0 }], perEndpoint: [1], mean: 1, headroom: 1 },
  {
    name: 'multiple pods, all good capacity',
    pods: [{ waiting: 1, kv: 0.1, ageMs: 0 }, { waiting: 0, kv: 0.2, ageMs: 0 }],
    perEndpoint: [0.2, 0.2 / 0.9],
    mean: (0.2 + 0.2 / 0.9) / 2,
    headroom: (0.2 + 0.2 / 0.9) / 2,
  },
  {
    name: 'multiple pods, one good, one stale',
    pods: [{ waiting: 1, kv: 0.1, ageMs: 0 }, { waiting: 0, kv: 0.2, ageMs: 300 }],
    perEndpoint: [0.2, 1],
    mean: 0.6,
    headroom: 0.6,
  },
  {
    name: 'multiple pods, one good, one bad (high queue): Go blocks the pool at 1.6, we do not',
    pods: [{ waiting: 1, kv: 0.1, ageMs: 0 }, { waiting: 15, kv: 0.2, ageMs: 0 }],
    perEndpoint: [0.2, 3],
    mean: 1.6,
    headroom: 0.6,
  },
  {
    name: 'multiple pods, all bad capacity',
    pods: [{ waiting: 1, kv: 0.1, ageMs: 200 }, { waiting: 20, kv: 0.2, ageMs: 0 }, { waiting: 1, kv: 0.99, ageMs: 0 }],
    perEndpoint: [1, 4, 1.1],
    mean: (1 + 4 + 1.1) / 3,
    headroom: 1,
  },
  {
    name: 'queue depth exactly at threshold is saturated',
    pods: [{ waiting: 5, kv: 0.1, ageMs: 0 }],
    perEndpoint: [1],
    mean: 1,
    headroom: 1,
  },
  {
    name: 'metrics age just over the staleness threshold',
    pods: [{ waiting: 1, kv: 0.1, ageMs: 101 }],
    perEndpoint: [1],
    mean: 1,
    headroom: 1,
  },
];

function evaluate(pods: readonly EndpointState[], aggregation: Aggregation) {
  const f = poolOf(pods);
  const detector = new UtilizationDetector({ pool: f.store, clock: f.clock }, { ...GO_CONFIG, aggregation });
  return { saturation: detector.saturation(), perEndpoint: f.ids.map((id) => detector.endpointSaturation(id)) };
}

describe('utilization detector: Go reference vectors', () => {
  it.each(VECTORS)('$name', (v) => {
    const mean = evaluate(v.pods, 'mean');
    expect(mean.saturation).toBeCloseTo(v.mean, 4);
    mean.perEndpoint.forEach((s, i) => expect(s).toBeCloseTo(v.perEndpoint[i]!, 4));
    expect(evaluate(v.pods, 'headroom').saturation).toBeCloseTo(v.headroom, 4);
  });

  it('an age exactly at the staleness limit is still fresh (strictly older is stale, as in Go)', () => {
    expect(evaluate([{ waiting: 1, kv: 0.1, ageMs: 100 }], 'mean').saturation).toBeCloseTo(0.2, 6);
  });

  it('KV exactly at its threshold scores exactly 1.0', () => {
    expect(evaluate([{ waiting: 0, kv: 0.9, ageMs: 0 }], 'mean').saturation).toBe(1);
  });
});
