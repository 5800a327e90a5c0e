// The simulator over real HTTP on 127.0.0.1 (ephemeral ports): vLLM's bodies, SSE framing, errors and hooks.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OUTPUT_TOKENS_HEADER,
  type SimServer,
  type SimulatedPool,
  startSimulatedPool,
} from '../../../src/simulator/index.js';

const TIME_SCALE = 0.05;

let pool: SimulatedPool;
let base: string;
let sim: SimServer;

beforeAll(async () => {
  pool = await startSimulatedPool({ replicas: 2, timeScale: TIME_SCALE, model: 'llama', loras: ['sql'], seed: 3 });
  base = `http://${pool.servers[0]!.id}`;
  sim = pool.simulators[0]!;
});

afterAll(async () => {
  await pool.close();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Splits an SSE body into its `data:` payloads, checking the framing on the way. */
function sseData(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  const events = text.slice(0, -2).split('\n\n');
  return events.map((e) => {
    expect(e.startsWith('data: ')).toBe(true);
    expect(e.includes('\n')).toBe(false);
    return e.slice('data: '.length);
  });
}

describe('simulated vLLM server over HTTP', () => {
  it('answers a non-streaming completion with usage', async () => {
    const res = await post('/v1/completions', { model: 'llama', prompt: 'a'.repeat(400), max_tokens: 10 }, { [OUTPUT_TOKENS_HEADER]: '4' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      object: 'text_completion',
      model: 'llama',
      choices: [{ index: 0, text: ' the on and at', finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 100, completion_tokens: 4, total_tokens: 104 },
    });
    expect(String(body.id)).toMatch(/^cmpl-[0-9a-f]{32}$/);
  });

  it('answers a non-streaming chat completion, stopping at max_tokens with finish_reason length', async () => {
    const res = await post('/v1/chat/completions', {
      model: 'llama',
      messages: [{ role: 'user', content: 'hello' }],
      max_completion_tokens: 3,
      ignore_eos: true,
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: ' the on and' }, finish_reason: 'length' }],
      usage: { completion_tokens: 3 },
    });
  });

  it('streams a completion as vLLM frames it: a chunk per token, finish_reason last, usage chunk, [DONE]', async () => {
    const res = await post(
      '/v1/completions',
      { model: 'llama', prompt: 'hello there', max_tokens: 5, stream: true, stream_options: { include_usage: true } },
      { [OUTPUT_TOKENS_HEADER]: '5' },
    );
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const data = sseData(await res.text());
    expect(data).toHaveLength(5 + 2);
    expect(data[data.length - 1]).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Record<string, unknown>);
    const id = chunks[0]!.id;
    for (const c of chunks) expect(c).toMatchObject({ id, object: 'text_completion', model: 'llama' });
    const tokens = chunks.slice(0, 5) as { choices: { text: string; finish_reason: string | null }[] }[];
    expect(tokens.map((c) => c.choices[0]!.finish_reason)).toEqual([null, null, null, null, 'length']);
    expect(tokens.map((c) => c.choices[0]!.text).join('')).toBe(' the on and at in');
    expect(chunks[5]).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 } });
    expect(Object.keys(tokens[0]!)).not.toContain('usage');
  });

  it('streams a chat completion with a role chunk first and no usage chunk unless asked', async () => {
    const res = await post(
      '/v1/chat/completions',
      { model: 'sql', messages: [{ role: 'user', content: 'q' }], stream: true, max_tokens: 3 },
      { [OUTPUT_TOKENS_HEADER]: '2' },
    );
    const data = sseData(await res.text());
    expect(data).toHaveLength(1 + 2 + 1);
    const [role, first, last] = data.slice(0, 3).map((d) => JSON.parse(d) as Record<string, unknown>);
    expect(role).toMatchObject({
      object: 'chat.completion.chunk',
      model: 'sql',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    });
    expect(first).toMatchObject({ choices: [{ delta: { content: ' the' }, finish_reason: null }] });
    expect(last).toMatchObject({ choices: [{ delta: { content: ' on' }, finish_reason: 'stop' }] });
    expect(data[3]).toBe('[DONE]');
  });

  it('writes errors exactly as vLLM does', async () => {
    const cases: [string, unknown, number, string, RegExp][] = [
      ['/v1/completions', '{not json', 400, 'BadRequestError', /JSON decode error/],
      ['/v1/completions', { model: 'llama' }, 400, 'BadRequestError', /prompt/],
      ['/v1/chat/completions', { model: 'llama', prompt: 'x' }, 400, 'BadRequestError', /messages/],
      ['/v1/completions', { model: 'gpt-9', prompt: 'x' }, 404, 'NotFoundError', /^The model `gpt-9` does not exist\.$/],
      [
        '/v1/completions',
        { model: 'llama', prompt: 'x'.repeat(4 * 5000) },
        400,
        'BadRequestError',
        /^This model's maximum context length is 4096 tokens\. However, your request has 5000 input tokens\./,
      ],
      [
        '/v1/completions',
        { model: 'llama', prompt: 'x'.repeat(4 * 4000), max_tokens: 200 },
        400,
        'BadRequestError',
        /'max_tokens' or 'max_completion_tokens' is too large: 200\. .*\(200 > 4096 - 4000\)\.$/,
      ],
    ];
    const before = sim.metrics.render();
    for (const [path, body, status, type, message] of cases) {
      const res = await post(path, body);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/json');
      const text = await res.text();
      const parsed = JSON.parse(text) as { error: Record<string, unknown> };
      expect(Object.keys(parsed)).toEqual(['error']);
      expect(Object.keys(parsed.error)).toEqual(['message', 'type', 'param', 'code']);
      expect(parsed.error.type).toBe(type);
      expect(parsed.error.code).toBe(status);
      expect(String(parsed.error.message)).toMatch(message);
    }
    // Checked before queueing: nothing reached the engine.
    const queries = (t: string): string | undefined => t.split('\n').find((l) => l.startsWith('vllm:prefix_cache_queries_total'));
    expect(queries(sim.metrics.render())).toBe(queries(before));
  });

  it('serves /health, /v1/models with LoRA adapters, and /metrics as Prometheus text', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string; parent: string | null }[] };
    expect(models.data.map((m) => [m.id, m.parent])).toEqual([
      ['llama', null],
      ['sql', 'llama'],
    ]);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await metrics.text();
    for (const name of [
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:kv_cache_usage_perc',
      'vllm:lora_requests_info',
      'vllm:cache_config_info',
      'vllm:num_preemptions_total',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
      'vllm:prefix_cache_queries_total',
      'vllm:prefix_cache_hits_total',
      'vllm:request_success_total',
      'vllm:time_to_first_token_seconds_bucket',
      'vllm:inter_token_latency_seconds_bucket',
      'vllm:e2e_request_latency_seconds_bucket',
      'vllm:request_queue_time_seconds_bucket',
    ]) {
      expect(text).toMatch(new RegExp(`^${name}\\{`, 'm'));
    }
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('loads and unloads LoRA adapters at runtime', async () => {
    const load = await post('/v1/load_lora_adapter', { lora_name: 'chat', lora_path: '/x' });
    expect(await load.text()).toBe("Success: LoRA adapter 'chat' added successfully.");
    expect((await post('/v1/load_lora_adapter', { lora_name: 'chat', lora_path: '/x' })).status).toBe(400);
    const used = await post('/v1/completions', { model: 'chat', prompt: 'hi', max_tokens: 2 });
    expect(used.status).toBe(200);
    expect((await post('/v1/unload_lora_adapter', { lora_name: 'chat' })).status).toBe(200);
    expect((await post('/v1/unload_lora_adapter', { lora_name: 'chat' })).status).toBe(404);
    expect((await post('/v1/completions', { model: 'chat', prompt: 'hi' })).status).toBe(404);
  });

  for (const stream of [false, true]) {
    it(`aborts the request and frees its blocks when the client disconnects (stream=${stream})`, async () => {
      const engine = pool.simulators[1]!.engine;
      const url = new URL(`http://${pool.servers[1]!.id}/v1/completions`);
      const req = httpRequest(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [OUTPUT_TOKENS_HEADER]: '3000' },
      });
      req.on('error', () => {});
      req.end(JSON.stringify({ model: 'llama', prompt: 'z'.repeat(2000), max_tokens: 3000, stream }));
      await waitFor(() => engine.stats().running === 1);
      expect(engine.stats().usedBlocks).toBeGreaterThan(0);
      req.destroy();
      await waitFor(() => engine.stats().running === 0);
      expect(engine.stats().usedBlocks).toBe(0);
      expect(engine.busy).toBe(false);
    });
  }
});

describe('simulated pool hooks', () => {
  it('starts replicas on consecutive ports', async () => {
    let started: SimulatedPool | undefined;
    for (let attempt = 0; attempt < 5 && started === undefined; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 30_000);
      started = await startSimulatedPool({ replicas: 3, port }).catch(() => undefined);
    }
    expect(started).toBeDefined();
    const ports = started!.servers.map((s) => s.port);
    expect(ports).toEqual([ports[0], ports[0]! + 1, ports[0]! + 2]);
    await started!.close();
    await started!.close();
  });

  it('injects failures: 500 with vLLM error JSON, connection reset, and hang', async () => {
    const p = await startSimulatedPool({ replicas: 1, failureRate: 1, failureKind: '500' });
    const r500 = await fetch(`http://${p.servers[0]!.id}/v1/completions`, { method: 'POST', body: '{"prompt":"x"}' });
    expect(r500.status).toBe(500);
    expect(await r500.json()).toMatchObject({ error: { type: 'InternalServerError', code: 500, param: null } });
    // Health and metrics never fail.
    expect((await fetch(`http://${p.servers[0]!.id}/health`)).status).toBe(200);
    await p.close();

    const reset = await startSimulatedPool({ failureRate: 1, failureKind: 'reset' });
    await expect(fetch(`http://${reset.servers[0]!.id}/v1/completions`, { method: 'POST', body: '{"prompt":"x"}' })).rejects.toThrow();
    await reset.close();

    const hang = await startSimulatedPool({ failureRate: 1, failureKind: 'hang' });
    await expect(
      fetch(`http://${hang.servers[0]!.id}/v1/completions`, { method: 'POST', body: '{"prompt":"x"}', signal: AbortSignal.timeout(200) }),
    ).rejects.toThrow();
    await hang.close();
  });

  it('reports fake metrics instead of the real state', async () => {
    const p = await startSimulatedPool({
      replicas: 2,
      speedFactors: [1, 0.5],
      fakeMetrics: { waiting: 3, running: 2, kvUsage: 0.9 },
      loras: [],
    });
    const text = await (await fetch(`http://${p.servers[1]!.id}/metrics`)).text();
    expect(text).toContain('vllm:num_requests_waiting{engine="0",model_name="sim-model"} 3.0');
    expect(text).toContain('vllm:kv_cache_usage_perc{engine="0",model_name="sim-model"} 0.9');
    expect(text).toContain('vllm:lora_requests_info{max_lora="4",running_lora_adapters="",waiting_lora_adapters=""}');
    await p.close();
  });
});
