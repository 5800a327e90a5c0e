// Fairway's standalone proxy end to end: a real HTTP client (undici) -> FairwayServer (proxyPort 0) -> simulated
// model servers. Completions and streaming completions pass through; rejections follow the status doctrine.
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeMetrics } from '../../../src/simulator/index.js';
import {
  type ServiceHarness,
  TEST_MODEL,
  completionBody,
  metricValue,
  queuedInBand,
  startService,
  waitFor,
  waitForIdle,
  waitForScrape,
} from '../../support/service-harness.js';

const FULL: FakeMetrics = { waiting: 100, running: 32, kvUsage: 0.9 };

let h: ServiceHarness;
let base: string;
const dispatcher = new Agent({ connections: 16 });

beforeAll(async () => {
  h = await startService({
    replicas: 2,
    proxy: true,
    config: {
      objectives: { interactive: 10, tiny: 5 },
      flowControl: { bands: [{ priority: 5, name: 'tiny', maxRequests: 1 }] },
    },
  });
  base = `http://127.0.0.1:${h.ports.proxy}`;
  await waitForScrape(h.server, h.ids, (e) => e.metrics?.waitingQueue === 0);
});

afterAll(async () => {
  await dispatcher.close();
  await h?.close();
});

afterEach(async () => {
  await waitForIdle(h.server);
});

function post(body: string, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return request(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    dispatcher,
    ...(signal === undefined ? {} : { signal }),
  });
}

function successes(): number {
  return h.pool.simulators.reduce((n, s) => n + metricValue(s.metrics.render(), 'vllm:request_success_total'), 0);
}

async function servedTokens(tenant: string): Promise<number> {
  return metricValue(await h.server.registry.metrics(), 'fairway_tenant_served_tokens_total', { fairness_id: tenant });
}

describe('proxy mode', () => {
  it('relays a completion to a simulated pod and returns its JSON body', async () => {
    const before = successes();
    const res = await post(completionBody({ max_tokens: 5, ignore_eos: true }), {
      'x-gateway-inference-fairness-id': 'proxy-json',
      'x-request-id': 'proxy-1',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.headers['x-request-id']).toBe('proxy-1');
    const json = (await res.body.json()) as { model: string; choices: unknown[]; usage: { prompt_tokens: number; completion_tokens: number } };
    expect(json.model).toBe(TEST_MODEL);
    expect(json.choices).toHaveLength(1);
    expect(json.usage.completion_tokens).toBe(5);
    expect(successes()).toBe(before + 1);
    await waitFor('the served tokens of proxy-json', async () => (await servedTokens('proxy-json')) === json.usage.prompt_tokens + 5);
  });

  it('streams an SSE completion chunk by chunk and accounts its usage', async () => {
    const res = await post(
      // 40 tokens (~300 ms of decode steps): long enough that a loaded machine cannot coalesce the whole stream
      // into one read, so "more than one chunk" still proves the proxy relays as it receives.
      completionBody({ max_tokens: 40, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
      { 'x-gateway-inference-fairness-id': 'proxy-sse' },
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    expect(res.headers['x-request-id']).toEqual(expect.any(String)); // generated, then echoed
    let chunks = 0;
    let text = '';
    for await (const c of res.body) {
      chunks++;
      text += (c as Buffer).toString('utf8');
    }
    expect(chunks).toBeGreaterThan(1);
    const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    const payloads = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { choices: unknown[]; usage?: { prompt_tokens: number; completion_tokens: number } });
    expect(payloads.filter((p) => p.choices.length > 0)).toHaveLength(40);
    const usage = payloads.at(-1)?.usage;
    expect(usage?.completion_tokens).toBe(40);
    await waitFor('the served tokens of proxy-sse', async () => (await servedTokens('proxy-sse')) === (usage?.prompt_tokens ?? NaN) + 40);
  });

  it('releases everything, upstream included, when the client goes away mid-stream', async () => {
    const abort = new AbortController();
    const res = await post(
      completionBody({ max_tokens: 400, ignore_eos: true, stream: true }),
      { 'x-gateway-inference-fairness-id': 'proxy-gone' },
      abort.signal,
    );
    expect(res.statusCode).toBe(200);
    let chunks = 0;
    await expect(
      (async () => {
        for await (const _ of res.body) if (++chunks === 3) abort.abort();
      })(),
    ).rejects.toThrow();
    expect(chunks).toBe(3);
    await waitForIdle(h.server);
    // The abort reached the model server: its engine stops working on the request.
    await waitFor('the simulated engines to be idle', () =>
      h.pool.simulators.every((s) => s.engine.stats().running === 0 && s.engine.stats().waiting === 0),
    );
  });

  it('honours a subset hint header', async () => {
    const count = (i: number): number => metricValue(h.pool.simulators[i]!.metrics.render(), 'vllm:request_success_total');
    for (const target of [0, 1]) {
      const before = [count(0), count(1)];
      for (let i = 0; i < 3; i++) {
        const res = await post(completionBody({ max_tokens: 2 }), { 'x-gateway-destination-endpoint-subset': h.ids[target]! });
        expect(res.statusCode).toBe(200);
        await res.body.dump();
      }
      expect(count(target)).toBe(before[target]! + 3);
      expect(count(1 - target)).toBe(before[1 - target]);
    }
  });

  it('answers 400 with a JSON error body and a drop-reason header for bad JSON and a missing model', async () => {
    for (const body of ['{"model":', JSON.stringify({ prompt: 'no model' })]) {
      const before = successes();
      const res = await post(body, { 'x-request-id': 'bad-proxy' });
      expect(res.statusCode).toBe(400);
      expect(res.headers['x-fairway-drop-reason']).toBe('bad-request');
      expect(res.headers['x-request-id']).toBe('bad-proxy');
      expect(res.headers['retry-after']).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/application\/json/);
      const err = (await res.body.json()) as { error: { message: string; type: string; code: string } };
      expect(err.error.type).toBe('invalid_request_error');
      expect(err.error.code).toBe('bad-request');
      expect(err.error.message).toMatch(/\S/);
      expect(successes()).toBe(before);
    }
  });

  it('answers 429 with Retry-After when the pool is saturated and the band is full', async () => {
    for (const sim of h.pool.simulators) sim.setFakeMetrics(FULL);
    try {
      await waitForScrape(h.server, h.ids, (e) => e.metrics?.waitingQueue === 100);
      await waitFor('pool saturation >= 1', () => h.server.saturation.saturation() >= 1);
      const abort = new AbortController();
      const first = post(completionBody({ prompt: 'waits' }), { 'x-gateway-inference-objective': 'tiny' }, abort.signal);
      await waitFor('the first tiny request queued', () => queuedInBand(h.server, 5) === 1);
      const res = await post(completionBody({ prompt: 'overflows' }), { 'x-gateway-inference-objective': 'tiny' });
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.headers['x-fairway-drop-reason']).toBe('capacity');
      const err = (await res.body.json()) as { error: { type: string; code: string } };
      expect(err.error).toMatchObject({ type: 'rate_limit_error', code: 'capacity' });
      // The waiting client gives up: its request leaves the queue.
      abort.abort();
      await expect(first).rejects.toThrow();
      await waitFor('the queue to empty', () => h.server.flowControl.stats().queuedRequests === 0);
    } finally {
      for (const sim of h.pool.simulators) sim.setFakeMetrics(undefined);
      await waitForScrape(h.server, h.ids, (e) => e.metrics?.waitingQueue === 0);
    }
  });
});
