// Parses and validates OpenAI completion and chat bodies the way vLLM does, before anything is queued.
import { countTokens } from './block-hash.js';
import { ApiError } from './openai-errors.js';

export type ApiKind = 'completions' | 'chat';

export interface InferenceRequest {
  readonly api: ApiKind;
  /** The model asked for; undefined means the served model (vLLM makes `model` optional). */
  readonly model: string | undefined;
  /** Prompt text (chat messages rendered through a simple template) or token ids. */
  readonly promptText: string | undefined;
  readonly promptIds: readonly number[] | undefined;
  readonly promptTokens: number;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly maxTokens: number | undefined;
  readonly ignoreEos: boolean;
  readonly priority: number;
  readonly cacheSalt: string | undefined;
}

/** Parses a raw body; throws ApiError(400) with a vLLM-style message for anything it would reject. */
export function parseInferenceRequest(api: ApiKind, raw: string): InferenceRequest {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (err) {
    throw new ApiError(400, `JSON decode error: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'Input should be a valid dictionary or object to extract fields from');
  }
  const b = body as Record<string, unknown>;
  const model = optional(b, 'model', 'string');
  const stream = optional(b, 'stream', 'boolean') ?? false;
  const ignoreEos = optional(b, 'ignore_eos', 'boolean') ?? false;
  const priority = optionalInt(b, 'priority', Number.MIN_SAFE_INTEGER) ?? 0;
  const cacheSalt = optional(b, 'cache_salt', 'string');
  const maxTokens = optionalInt(b, api === 'chat' ? 'max_completion_tokens' : 'max_tokens', 1) ?? optionalInt(b, 'max_tokens', 1);
  const includeUsage = parseStreamOptions(b.stream_options, stream);
  const prompt = api === 'chat' ? renderMessages(b.messages) : parsePrompt(b.prompt);
  return {
    api,
    model,
    promptText: typeof prompt === 'string' ? prompt : undefined,
    promptIds: typeof prompt === 'string' ? undefined : prompt,
    promptTokens: typeof prompt === 'string' ? countTokens(prompt) : prompt.length,
    stream,
    includeUsage,
    maxTokens,
    ignoreEos,
    priority,
    cacheSalt,
  };
}

function optional<K extends 'string' | 'boolean'>(
  b: Record<string, unknown>,
  key: string,
  type: K,
): (K extends 'string' ? string : boolean) | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== type) throw new ApiError(400, `Input should be a valid ${type}: body.${key}`, key);
  return v as K extends 'string' ? string : boolean;
}

function optionalInt(b: Record<string, unknown>, key: string, min: number): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new ApiError(400, `Input should be a valid integer: body.${key}`, key);
  }
  if (v < min) throw new ApiError(400, `${key} must be at least ${min}, got ${v}.`, key);
  return v;
}

function parseStreamOptions(v: unknown, stream: boolean): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new ApiError(400, 'Input should be a valid dictionary: body.stream_options', 'stream_options');
  }
  if (!stream) throw new ApiError(400, 'Stream options can only be defined when `stream=True`.', 'stream_options');
  return (v as Record<string, unknown>).include_usage === true;
}

function parsePrompt(v: unknown): string | number[] {
  if (v === undefined || v === null) throw new ApiError(400, 'Field required: body.prompt', 'prompt');
  if (typeof v === 'string') {
    if (v.length === 0) throw new ApiError(400, 'Prompt cannot be empty', 'prompt');
    return v;
  }
  if (Array.isArray(v) && v.length > 0 && v.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0)) {
    return v as number[];
  }
  // A one-element batch is accepted as its single prompt; real batches are outside the simulator's scope.
  if (Array.isArray(v) && v.length === 1) return parsePrompt(v[0]);
  throw new ApiError(400, 'prompt must be a non-empty string or a non-empty list of token ids', 'prompt');
}

/**
 * Renders chat messages through a minimal template (role markers around each message, then the assistant
 * header), so the token count and the prefix-cache blocks depend on the conversation as with a real template.
 */
function renderMessages(v: unknown): string {
  if (v === undefined || v === null) throw new ApiError(400, 'Field required: body.messages', 'messages');
  if (!Array.isArray(v) || v.length === 0) {
    throw new ApiError(400, 'messages must be a non-empty list', 'messages');
  }
  let text = '';
  for (const m of v) {
    if (typeof m !== 'object' || m === null || typeof (m as Record<string, unknown>).role !== 'string') {
      throw new ApiError(400, 'each message must be an object with a string role', 'messages');
    }
    const msg = m as Record<string, unknown>;
    text += `<|${msg.role as string}|>\n${messageContent(msg.content)}<|end|>\n`;
  }
  return `${text}<|assistant|>\n`;
}

function messageContent(content: unknown): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let text = '';
    for (const part of content) {
      if (typeof part === 'object' && part !== null && typeof (part as Record<string, unknown>).text === 'string') {
        text += (part as Record<string, unknown>).text as string;
      }
    }
    return text;
  }
  throw new ApiError(400, 'message content must be a string or a list of parts', 'messages');
}
