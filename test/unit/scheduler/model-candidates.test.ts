// Multi-model pools in the scheduler: only endpoints serving the target model (or able to load the adapter) are
// candidates; unknown listings serve anything; "down" only while other endpoints answer.
import { describe, expect, it } from 'vitest';
import { type ServedModels, type ServedModelsView, parseModelList } from '../../../src/datalayer/index.js';
import { Scheduler, modelCandidates } from '../../../src/scheduler/index.js';
import { FakeInflight, endpoint, pool } from './support.js';

function listing(bases: string[], adapters: Record<string, string> = {}): ServedModels {
  return { bases: new Set(bases), adapters: new Map(Object.entries(adapters)), listedAt: 0 };
}

function view(byId: Record<string, ServedModels>): ServedModelsView {
  return { of: (id) => byId[id] };
}

const A = 'a:8000';
const B = 'b:8000';
const C = 'c:8000';

describe('modelCandidates', () => {
  const models = view({ [A]: listing(['llama'], { sql: 'llama' }), [B]: listing(['qwen']), [C]: listing(['llama']) });

  it('keeps the endpoints that list the model, as a base model or as an adapter', () => {
    const eps = [endpoint(A), endpoint(B), endpoint(C)];
    expect(modelCandidates(eps, 'qwen', models)).toEqual({ kind: 'served', endpoints: [eps[1]] });
    const llama = modelCandidates(eps, 'llama', models);
    expect(llama.kind === 'served' && llama.endpoints.map((e) => e.id)).toEqual([A, C]);
  });

  it('an adapter listed somewhere can be loaded where its base model is served with LoRA slots, not elsewhere', () => {
    const eps = [endpoint(A), endpoint(B, { maxLora: 4 }), endpoint(C, { maxLora: 4 })];
    const sql = modelCandidates(eps, 'sql', models);
    expect(sql.kind === 'served' && sql.endpoints.map((e) => e.id)).toEqual([A, C]);
    const noSlots = modelCandidates([endpoint(A), endpoint(C, { maxLora: 0 })], 'sql', models);
    expect(noSlots.kind === 'served' && noSlots.endpoints.map((e) => e.id)).toEqual([A]);
  });

  it('an adapter running or waiting in the metrics counts as served before the next listing', () => {
    const eps = [endpoint(B, { loraWaiting: ['fresh'] })];
    expect(modelCandidates(eps, 'fresh', models).kind).toBe('served');
  });

  it('not-found only when every endpoint has a listing and none serves the model', () => {
    const eps = [endpoint(A), endpoint(B)];
    expect(modelCandidates(eps, 'gpt-9', models)).toEqual({ kind: 'not-found' });
    const unknown = endpoint('d:8000');
    expect(modelCandidates([...eps, unknown], 'gpt-9', models)).toEqual({ kind: 'served', endpoints: [unknown] });
  });

  it('returns the input itself, unfiltered, when every endpoint may serve the model', () => {
    const eps = [endpoint(A), endpoint(C)];
    const out = modelCandidates(eps, 'llama', models);
    expect(out.kind === 'served' && out.endpoints).toBe(eps);
  });

  it('down when every server of the model is stale while another endpoint is fresh; a wholly stale pool is not', () => {
    expect(modelCandidates([endpoint(A, {}, true), endpoint(B)], 'llama', models)).toEqual({ kind: 'down', serving: 1 });
    expect(modelCandidates([endpoint(A, {}, true), endpoint(B, {}, true)], 'llama', models).kind).toBe('served');
  });
});

describe('Scheduler with served models', () => {
  const models = view({ [A]: listing(['llama']), [B]: listing(['qwen']) });
  const scheduler = new Scheduler({ models });
  const inflight = new FakeInflight();

  it('routes the target model (after a rewrite) to its servers only', () => {
    const p = pool([endpoint(A, { waitingQueue: 50 }), endpoint(B)]);
    for (let i = 0; i < 5; i++) {
      const r = scheduler.schedule({ model: 'chat', targetModel: 'llama' }, p, inflight);
      expect(r.kind === 'scheduled' && r.endpoints.map((e) => e.id)).toEqual([A]);
    }
  });

  it('answers model-not-found and model-unavailable with the model in the message', () => {
    const p = pool([endpoint(A), endpoint(B)]);
    expect(scheduler.schedule({ model: 'gpt-9' }, p, inflight)).toMatchObject({ kind: 'unschedulable', reason: 'model-not-found' });
    expect(scheduler.modelAvailability('gpt-9', p)).toBe('not-found');
    const down = pool([endpoint(A, {}, true), endpoint(B)]);
    expect(scheduler.schedule({ model: 'llama' }, down, inflight)).toMatchObject({ kind: 'unschedulable', reason: 'model-unavailable' });
    expect(scheduler.modelAvailability('llama', down)).toBe('down');
  });

  it('a subset hint holding no server of the model is an empty subset (503), not a missing model', () => {
    const p = pool([endpoint(A), endpoint(B)]);
    expect(scheduler.schedule({ model: 'llama', subsetHint: [B] }, p, inflight)).toMatchObject({ kind: 'unschedulable', reason: 'empty-subset' });
    expect(scheduler.schedule({ model: 'llama', subsetHint: [A, B] }, p, inflight)).toMatchObject({ kind: 'scheduled' });
  });

  it('without a models view every endpoint serves every model', () => {
    const r = new Scheduler().schedule({ model: 'gpt-9' }, pool([endpoint(A)]), inflight);
    expect(r.kind).toBe('scheduled');
  });
});

describe('parseModelList', () => {
  it('reads vLLM listings: base models, adapters under their parent', () => {
    const text = JSON.stringify({
      object: 'list',
      data: [
        { id: 'llama', object: 'model', root: 'meta/llama', parent: null },
        { id: 'llama-alias', object: 'model', root: 'meta/llama', parent: null },
        { id: 'sql', object: 'model', root: '/adapters/sql', parent: 'llama' },
      ],
    });
    const m = parseModelList(text, 7);
    expect([...(m?.bases ?? [])]).toEqual(['llama', 'llama-alias']);
    expect([...(m?.adapters ?? [])]).toEqual([['sql', 'llama']]);
    expect(m?.listedAt).toBe(7);
  });

  it('anything that is not such a list is unknown (undefined), never an empty listing', () => {
    for (const text of ['', 'not json', '[]', '{"data": {}}', '{"data": [{"object": "model"}]}', '{"data": [1]}', '{"data": [{"id": ""}]}']) {
      expect(parseModelList(text, 0)).toBeUndefined();
    }
    expect(parseModelList('{"data": []}', 0)?.bases.size).toBe(0);
  });
});
