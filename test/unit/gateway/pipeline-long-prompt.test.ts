import { describe, expect, it } from 'vitest';
import { createPrefixHasherSync } from '../../../src/scheduler/index.js';
import { inferenceRequest, pipelineFixture, routed } from '../../support/pipeline-fixture.js';
import { endpoint } from '../../support/static-pool.js';

describe('RequestPipeline with prompts longer than the hashing depth', () => {
  it('routes by prefix affinity on the hashed part: what differs beyond the depth does not matter', async () => {
    const depth = 4;
    const hasher = createPrefixHasherSync({ maxBlocks: depth });
    const a = endpoint('10.0.0.1', 8000);
    const b = endpoint('10.0.0.1', 8001);
    const f = await pipelineFixture({ endpoints: [a, b], extra: { hasher } });
    const shared = 'a shared preamble longer than the hashed depth. '.repeat(8); // 392 bytes > 4 x 64
    const earlier = { model: 'm', prompt: `${shared} then one long document` };
    const hashes = hasher.hashBody(earlier);
    expect(hashes.length).toBe(depth);
    f.scheduler.prefixIndex.record(hashes, b.id); // history: the earlier prompt went to b
    for (let i = 0; i < 5; i++) {
      const d = routed(await f.pipeline.handle(inferenceRequest({ model: 'm', prompt: `${shared} and another document, number ${i}` })));
      expect(d.endpoints[0]).toBe(b.id);
      expect(Array.from(f.scheduled.at(-1)?.prefixHashes ?? [])).toEqual([...hashes]);
      d.response.onEnd('complete');
    }
    expect(f.recorded.every((r) => r.blocks === depth)).toBe(true);
  });
});
