// Response bodies and SSE chunks shaped (field names and order) like vLLM's OpenAI server.
import { type ApiKind } from './openai-request.js';

export interface ResponseContext {
  readonly api: ApiKind;
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  readonly model: string;
}

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export type StreamFinish = 'stop' | 'length' | null;

// Short common words: about 4 characters each, matching the tokenizer approximation.
const WORDS = [' the', ' of', ' and', ' to', ' in', ' is', ' it', ' on', ' as', ' at', ' by', ' we'];

/** Text of output token `index`: deterministic filler. */
export function tokenText(index: number): string {
  return WORDS[(index * 7) % WORDS.length] ?? ' the';
}

export function outputText(tokens: number): string {
  let text = '';
  for (let i = 0; i < tokens; i++) text += tokenText(i);
  return text;
}

function usageJson(u: Usage): object {
  return {
    prompt_tokens: u.promptTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    completion_tokens: u.completionTokens,
    prompt_tokens_details: null,
  };
}

/** The non-streaming response. */
export function responseBody(ctx: ResponseContext, finish: 'stop' | 'length', usage: Usage): string {
  const text = outputText(usage.completionTokens);
  if (ctx.api === 'completions') {
    return JSON.stringify({
      id: ctx.id,
      object: 'text_completion',
      created: ctx.created,
      model: ctx.model,
      choices: [
        { index: 0, text, logprobs: null, finish_reason: finish, stop_reason: null, prompt_logprobs: null },
      ],
      usage: usageJson(usage),
      system_fingerprint: null,
      kv_transfer_params: null,
    });
  }
  return JSON.stringify({
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text, refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning_content: null },
        logprobs: null,
        finish_reason: finish,
        stop_reason: null,
      },
    ],
    service_tier: null,
    system_fingerprint: null,
    usage: usageJson(usage),
    prompt_logprobs: null,
    kv_transfer_params: null,
  });
}

function sse(payload: object): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

function chunkObject(ctx: ResponseContext): string {
  return ctx.api === 'chat' ? 'chat.completion.chunk' : 'text_completion';
}

/** The chat stream's opening chunk (role only); completions streams have none. */
export function roleChunk(ctx: ResponseContext): string {
  return sse({
    id: ctx.id,
    object: chunkObject(ctx),
    created: ctx.created,
    model: ctx.model,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
  });
}

/** One token's chunk; the last one carries `finish_reason`. */
export function tokenChunk(ctx: ResponseContext, text: string, finish: StreamFinish): string {
  const choice =
    ctx.api === 'chat'
      ? finish === null
        ? { index: 0, delta: { content: text }, logprobs: null, finish_reason: null }
        : { index: 0, delta: { content: text }, logprobs: null, finish_reason: finish, stop_reason: null }
      : { index: 0, text, logprobs: null, finish_reason: finish, stop_reason: null };
  return sse({ id: ctx.id, object: chunkObject(ctx), created: ctx.created, model: ctx.model, choices: [choice] });
}

/** The usage chunk sent when `stream_options.include_usage` is set: empty `choices`. */
export function usageChunk(ctx: ResponseContext, usage: Usage): string {
  return sse({
    id: ctx.id,
    object: chunkObject(ctx),
    created: ctx.created,
    model: ctx.model,
    choices: [],
    usage: usageJson(usage),
  });
}

export const DONE_CHUNK = 'data: [DONE]\n\n';
