// The pipeline's model rewrites and its llm-d header names: what is forwarded, what the scheduler is asked, what
// the observer is told.
import { describe, expect, it } from 'vitest';
import { type BodyBytes, type DecisionEvent, bodyToBuffer, rewriteSetFromSpec } from '../../../src/gateway/index.js';
import { DEFAULT_PROFILE_CONFIG, LORA_CAPACITY_FILTER, buildProfile } from '../../../src/scheduler/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { inferenceRequest, pipelineFixture, rejected, routed } from '../../support/pipeline-fixture.js';
import { endpoint } from '../../support/static-pool.js';

const canary = rewriteSetFromSpec(
  'llama-canary',
  { rules: [{ matches: [{ model: { value: 'llama' } }], targets: [{ modelRewrite: 'llama-v1', weight: 1 }, { modelRewrite: 'llama-v2', weight: 1 }] }] },
  0,
);
const modelOf = (b: BodyBytes): unknown => (JSON.parse(bodyToBuffer(b).toString()) as { model?: unknown }).model;
const body = { model: 'llama', prompt: 'Hello there, how are you today?', max_tokens: 8 };

describe('RequestPipeline model rewrites', () => {
  it('rewrites the forwarded body and x-gateway-model-name, hands the target to the scheduler, labels both models', async () => {
    const decisions: DecisionEvent[] = [];
    const f = await pipelineFixture({ rewrites: [canary], observer: { onDecision: (e) => decisions.push(e), onResponse: () => {} } });
    const first = routed(await f.pipeline.handle(inferenceRequest(body)));
    const second = routed(await f.pipeline.handle(inferenceRequest(body)));
    expect(JSON.parse(bodyToBuffer(first.body).toString())).toEqual({ ...body, model: 'llama-v1' });
    expect(JSON.parse(bodyToBuffer(second.body).toString())).toEqual({ ...body, model: 'llama-v2' });
    expect(first.setHeaders.get('x-gateway-model-name')).toBe('llama-v1');
    expect(f.scheduled.map((r) => [r.model, r.targetModel])).toEqual([
      ['llama', 'llama-v1'],
      ['llama', 'llama-v2'],
    ]);
    expect(decisions.map((d) => [d.model, d.targetModel, d.rewrite])).toEqual([
      ['llama', 'llama-v1', 'llama-canary'],
      ['llama', 'llama-v2', 'llama-canary'],
    ]);
    first.response.onEnd('complete');
    second.response.onEnd('complete');
  });

  it('forwards the very same bytes and sets x-gateway-model-name when nothing is rewritten', async () => {
    const f = await pipelineFixture({ rewrites: [canary] });
    const req = inferenceRequest({ ...body, model: 'mistral' });
    const d = routed(await f.pipeline.handle(req));
    expect(d.body).toBe(req.body);
    expect(d.setHeaders.get('x-gateway-model-name')).toBe('mistral');
    expect(f.scheduled[0]?.targetModel).toBe('mistral');
    d.response.onEnd('complete');
  });

  it('honours the rewrite header (llm-d name first) when trusted, lets a matching rule decide over it, ignores it in strip mode', async () => {
    const f = await pipelineFixture({ rewrites: [canary] });
    const viaHeader = routed(
      await f.pipeline.handle(inferenceRequest({ ...body, model: 'base' }, { 'x-gateway-model-name-rewrite': 'old-name', 'x-llm-d-model-name-rewrite': 'adapter-a' })),
    );
    expect(modelOf(viaHeader.body)).toBe('adapter-a');
    const ruled = routed(await f.pipeline.handle(inferenceRequest(body, { 'x-gateway-model-name-rewrite': 'adapter-a' })));
    expect(modelOf(ruled.body)).toBe('llama-v1');
    const strip = await pipelineFixture({ mode: 'strip' });
    const ignored = routed(await strip.pipeline.handle(inferenceRequest({ ...body, model: 'base' }, { 'x-gateway-model-name-rewrite': 'adapter-a' })));
    expect(modelOf(ignored.body)).toBe('base');
    for (const d of [viaHeader, ruled, ignored]) d.response.onEnd('complete');
  });

  it('lets the LoRA capacity filter act on the rewrite target (it never could before: targetModel was never set)', async () => {
    const full = { loraRunning: ['other-1', 'other-2'], loraWaiting: [], maxLora: 2 };
    const profile = buildProfile({ ...DEFAULT_PROFILE_CONFIG, filters: [{ type: LORA_CAPACITY_FILTER, parameters: { failOpen: false } }] });
    const f = await pipelineFixture({
      endpoints: [endpoint('10.0.0.1', 8000, full), endpoint('10.0.0.1', 8001, { ...full, loraRunning: ['other-1', 'llama-v1'] })],
      rewrites: [rewriteSetFromSpec('to-adapter', { rules: [{ matches: [{ model: { value: 'llama' } }], targets: [{ modelRewrite: 'llama-v1' }] }] }, 0)],
      scheduler: { profile },
    });
    for (let i = 0; i < 4; i++) {
      const d = routed(await f.pipeline.handle(inferenceRequest(body)));
      expect(d.endpoints).toEqual(['10.0.0.1:8001']);
      d.response.onEnd('complete');
    }
  });
});

describe('RequestPipeline llm-d header names', () => {
  it('reads x-llm-d-inference-objective and -fairness-id, and they win over the x-gateway names', async () => {
    const f = await pipelineFixture({ saturation: 1 });
    void f.pipeline.handle(inferenceRequest(body, { 'x-llm-d-inference-objective': 'interactive', 'x-llm-d-inference-fairness-id': 'alice' }));
    void f.pipeline.handle(
      inferenceRequest(body, {
        'x-llm-d-inference-objective': 'batch',
        'x-gateway-inference-objective': 'interactive',
        'x-llm-d-inference-fairness-id': 'bob',
        'x-gateway-inference-fairness-id': 'mallory',
      }),
    );
    void f.pipeline.handle(inferenceRequest(body, { 'x-gateway-inference-objective': 'interactive', 'x-gateway-inference-fairness-id': 'carol' }));
    await flushMicrotasks();
    const bands = f.fc.stats().bands.map((b) => [b.priority, b.queuedRequests, b.flows]);
    expect(bands).toEqual([
      [10, 2, 2],
      [-1, 1, 1],
    ]);
    await f.fc.close();
  });

  it('ignores llm-d names in strip mode exactly like the x-gateway names', async () => {
    const f = await pipelineFixture({ saturation: 1, mode: 'strip' });
    void f.pipeline.handle(inferenceRequest(body, { 'x-llm-d-inference-objective': 'interactive', 'x-llm-d-inference-fairness-id': 'alice' }));
    await flushMicrotasks();
    expect(f.fc.stats().bands.map((b) => [b.priority, b.flows])).toEqual([[0, 1]]);
    await f.fc.close();
  });

  it('puts the llm-d names through the same checks: a malformed one is a 400 naming the header as sent', async () => {
    const f = await pipelineFixture();
    const slo = rejected(await f.pipeline.handle(inferenceRequest(body, { 'x-llm-d-slo-ttft-ms': '12ms' })));
    expect(slo).toMatchObject({ status: 400, reason: 'bad-header' });
    expect(slo.message).toContain('x-llm-d-slo-ttft-ms');
    const old = rejected(await f.pipeline.handle(inferenceRequest(body, { 'x-slo-ttft-ms': '-5' })));
    expect(old.message).toContain('x-slo-ttft-ms');
    const id = rejected(await f.pipeline.handle(inferenceRequest(body, { 'x-llm-d-inference-fairness-id': 't'.repeat(257) })));
    expect(id.message).toMatch(/x-llm-d-inference-fairness-id must be at most 256 characters/);
    // In strip mode the identity claims are not read, so neither spelling is checked.
    const strip = await pipelineFixture({ mode: 'strip' });
    routed(await strip.pipeline.handle(inferenceRequest(body, { 'x-llm-d-inference-fairness-id': 't'.repeat(300) }))).response.onEnd('complete');
  });

  it('reads the TTFT SLO from x-llm-d-slo-ttft-ms before Fairway name and the old alias', async () => {
    const seen: (number | undefined)[] = [];
    const f = await pipelineFixture();
    const spy = await pipelineFixture({
      extra: {
        flowControl: {
          enqueueAndWait: (r, o) => {
            seen.push(r.ttftSloMs);
            return f.fc.enqueueAndWait(r, o);
          },
        },
      },
    });
    await spy.pipeline.handle(inferenceRequest(body, { 'x-llm-d-slo-ttft-ms': '250', 'x-fairway-ttft-slo-ms': '900' }));
    await spy.pipeline.handle(inferenceRequest(body, { 'x-slo-ttft-ms': '700' }));
    await spy.pipeline.handle(inferenceRequest(body, { 'x-fairway-ttft-slo-ms': '900', 'x-slo-ttft-ms': '700' }));
    expect(seen).toEqual([250, 700, 900]);
  });
});
