// Request parsing: what vLLM accepts, what it rejects with 400, and how prompts become token counts.
import { describe, expect, it } from 'vitest';
import { parseInferenceRequest } from '../../../src/simulator/openai-request.js';
import { ApiError, errorBody } from '../../../src/simulator/openai-errors.js';

function rejects(api: 'completions' | 'chat', body: string, message: RegExp): void {
  try {
    parseInferenceRequest(api, body);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toMatch(message);
    return;
  }
  throw new Error(`accepted ${body}`);
}

describe('parseInferenceRequest', () => {
  it('reads completions fields, with model optional as in vLLM', () => {
    const r = parseInferenceRequest(
      'completions',
      JSON.stringify({ prompt: 'abcdefgh', max_tokens: 7, stream: true, stream_options: { include_usage: true }, priority: -3, ignore_eos: true }),
    );
    expect(r).toMatchObject({ model: undefined, promptTokens: 2, maxTokens: 7, stream: true, includeUsage: true, priority: -3, ignoreEos: true });
    expect(parseInferenceRequest('completions', '{"prompt":[1,2,3]}')).toMatchObject({ promptIds: [1, 2, 3], promptTokens: 3 });
  });

  it('renders chat messages through a template and prefers max_completion_tokens', () => {
    const r = parseInferenceRequest(
      'chat',
      JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], max_tokens: 9, max_completion_tokens: 4 }),
    );
    expect(r.promptText).toBe('<|user|>\nhi<|end|>\n<|assistant|>\n');
    expect(r.maxTokens).toBe(4);
  });

  it('rejects what vLLM rejects', () => {
    rejects('completions', '[1]', /dictionary/);
    rejects('completions', '{}', /Field required: body.prompt/);
    rejects('completions', '{"prompt":""}', /empty/);
    rejects('completions', '{"prompt":"x","max_tokens":0}', /max_tokens/);
    rejects('completions', '{"prompt":"x","max_tokens":1.5}', /integer/);
    rejects('completions', '{"prompt":"x","stream_options":{"include_usage":true}}', /stream=True/);
    rejects('chat', '{"messages":[]}', /non-empty/);
    rejects('chat', '{"messages":[{"content":"x"}]}', /role/);
  });

  it('writes the error envelope with vLLM field order', () => {
    expect(errorBody(404, 'gone')).toBe('{"error":{"message":"gone","type":"NotFoundError","param":null,"code":404}}');
  });
});
