// A multi-model pool end to end, through both front ends (ext_proc as Envoy drives it, and the proxy) against
// simulated servers that serve different models: Fairway learns each server's models from its /v1/models, routes a
// request only to servers of its (rewritten) model, answers 404 model_not_found for a model none serves, and 503
// model-unavailable when every server of a model is down while others answer.
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ServiceHarness,
  inferenceHeaders,
  metricValue,
  startService,
  waitFor,
  waitForIdle,
  waitForScrape,
} from '../../support/service-harness.js';

let h: ServiceHarness;
let base: string;
/** Replica 0 serves llama with the `sql` adapter; replicas 1 and 2 serve qwen. */
let llamaId: string;
let qwenIds: string[];
const dispatcher = new Agent({ connections: 8 });

beforeAll(async () => {
  h = await startService({
    replicas: 3,
    proxy: true,
    models: [{ model: 'llama', loras: ['sql'] }, { model: 'qwen' }, { model: 'qwen' }],
    config: {
      modelRewrites: [
        { name: 'chat-to-qwen', rules: [{ matches: [{ model: { value: 'chat' } }], targets: [{ modelRewrite: 'qwen' }] }] },
        { name: 'retired', rules: [{ matches: [{ model: { value: 'old' } }], targets: [{ modelRewrite: 'ghost' }] }] },
      ],
      pool: { models: { intervalMs: 200 } },
    },
  });
  const [first, ...rest] = h.ids;
  llamaId = first ?? '';
  qwenIds = rest;
  await waitForScrape(h.server, h.ids, () => true);
  await waitFor('every replica model listing', () => h.ids.every((id) => h.server.models?.of(id) !== undefined));
  base = `http://127.0.0.1:${h.ports.proxy}`;
});

afterAll(async () => {
  await dispatcher.close();
  await h?.close();
});

afterEach(async () => {
  await waitForIdle(h.server);
});

function body(model: string): string {
  return JSON.stringify({ model, prompt: `multi-model probe for ${model}`, max_tokens: 3 });
}

async function viaExtProc(model: string) {
  const ex = await h.client.sendRequest({ headers: inferenceHeaders('mm-tenant'), bodyChunks: [body(model)] });
  ex.stream.end();
  return ex;
}

function viaProxy(model: string) {
  return request(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gateway-inference-fairness-id': 'mm-tenant' },
    body: body(model),
    dispatcher,
  });
}

function successes(index: number): number {
  const sim = h.pool.simulators[index];
  return sim === undefined ? 0 : metricValue(sim.metrics.render(), 'vllm:request_success_total');
}

describe('multi-model pool', () => {
  it('learns what every replica serves from its /v1/models', () => {
    expect([...(h.server.models?.of(llamaId)?.bases ?? [])]).toEqual(['llama']);
    expect(h.server.models?.of(llamaId)?.adapters.get('sql')).toBe('llama');
    for (const id of qwenIds) expect([...(h.server.models?.of(id)?.bases ?? [])]).toEqual(['qwen']);
  });

  it('ext_proc: routes each model only to the replicas serving it, adapters included, and names the model', async () => {
    for (let i = 0; i < 6; i++) {
      const ex = await viaExtProc('qwen');
      expect(ex.immediate).toBeUndefined();
      expect(qwenIds).toContain(ex.setHeaders.get('x-gateway-destination-endpoint'));
      expect(ex.setHeaders.get('x-gateway-model-name')).toBe('qwen');
    }
    for (const model of ['llama', 'sql']) {
      const ex = await viaExtProc(model);
      expect(ex.immediate).toBeUndefined();
      expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe(llamaId);
      expect(ex.setHeaders.get('x-gateway-model-name')).toBe(model);
    }
  });

  it('ext_proc: a rewritten model goes to the servers of the target, and its body says so', async () => {
    const ex = await viaExtProc('chat');
    expect(ex.immediate).toBeUndefined();
    expect(qwenIds).toContain(ex.setHeaders.get('x-gateway-destination-endpoint'));
    expect(JSON.parse(ex.body.toString('utf8'))).toMatchObject({ model: 'qwen' });
  });

  it('ext_proc: a model no replica serves gets an OpenAI-shaped 404 model_not_found at once', async () => {
    const ex = await viaExtProc('gpt-9');
    expect(ex.immediate?.status).toBe(404);
    expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('model-not-found');
    const error = (JSON.parse(ex.immediate?.body ?? '{}') as { error: Record<string, unknown> }).error;
    expect(error).toMatchObject({ type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
    expect(error.message).toContain('`gpt-9`');
    // A rewrite to a model nobody serves names both the target and what the client asked for.
    const rewritten = await viaExtProc('old');
    expect(rewritten.immediate?.status).toBe(404);
    expect(rewritten.immediate?.body).toContain('`ghost` (requested as `old`)');
  });

  it('proxy: each model is served by its own replicas, a rewrite by the target’s, an unknown model is a 404', async () => {
    const llamaBefore = successes(0);
    const qwenBefore = successes(1) + successes(2);
    for (const model of ['qwen', 'qwen', 'chat', 'llama', 'sql']) {
      const res = await viaProxy(model);
      expect(res.statusCode).toBe(200);
      const json = (await res.body.json()) as { model: string };
      expect(json.model).toBe(model === 'chat' ? 'qwen' : model);
    }
    expect(successes(0) - llamaBefore).toBe(2);
    expect(successes(1) + successes(2) - qwenBefore).toBe(3);
    const missing = await viaProxy('gpt-9');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['x-fairway-drop-reason']).toBe('model-not-found');
    expect(await missing.body.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model', type: 'invalid_request_error' } });
    const metrics = await h.server.registry.metrics();
    expect(metricValue(metrics, 'fairway_shed_requests_total', { reason: 'model-not-found' })).toBeGreaterThanOrEqual(1);
  });

  // Last: it stops a replica for good.
  it('503 model-unavailable when every server of a model is down while the others answer, both front ends', async () => {
    await h.pool.simulators[0]?.close();
    await waitFor('the llama replica to turn stale', () => h.server.monitor.pool.current().endpoints.find((e) => e.id === llamaId)?.stale === true);
    const ex = await viaExtProc('llama');
    expect(ex.immediate?.status).toBe(503);
    expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('model-unavailable');
    expect(ex.immediate?.headers.get('retry-after')).toMatch(/^\d+$/);
    const res = await viaProxy('sql');
    expect(res.statusCode).toBe(503);
    expect(res.headers['x-fairway-drop-reason']).toBe('model-unavailable');
    await res.body.dump();
    const qwen = await viaProxy('qwen');
    expect(qwen.statusCode).toBe(200);
    await qwen.body.dump();
  });
});
