// Reads what routing needs from an OpenAI-compatible request body, parsing the JSON exactly once.

export type ApiKind = 'completions' | 'chat-completions' | 'embeddings' | 'responses' | 'other';

export interface ParsedBody {
  readonly api: ApiKind;
  readonly model: string;
  readonly stream: boolean;
  /** `max_tokens` / `max_completion_tokens` / `max_output_tokens`, when given. */
  readonly maxTokens: number | undefined;
  /** The parsed body, for prompt hashing (never re-serialised). */
  readonly json: Record<string, unknown>;
}

export type BodyParseResult = { readonly ok: true; readonly body: ParsedBody } | { readonly ok: false; readonly message: string };

export function apiKindOf(path: string): ApiKind {
  const p = path.split('?', 1)[0] ?? '';
  if (p.endsWith('/chat/completions')) return 'chat-completions';
  if (p.endsWith('/completions')) return 'completions';
  if (p.endsWith('/embeddings')) return 'embeddings';
  if (p.endsWith('/responses')) return 'responses';
  return 'other';
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

export function parseRequestBody(path: string, body: Buffer): BodyParseResult {
  if (body.length === 0) return { ok: false, message: 'request body is empty; expected a JSON object with "model"' };
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return { ok: false, message: `request body is not valid JSON: ${(err as Error).message}` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, message: 'request body must be a JSON object' };
  }
  const obj = json as Record<string, unknown>;
  const model = obj.model;
  if (typeof model !== 'string' || model.length === 0) {
    return { ok: false, message: 'request body is missing "model" (a non-empty string)' };
  }
  return {
    ok: true,
    body: {
      api: apiKindOf(path),
      model,
      stream: obj.stream === true,
      maxTokens: positiveInt(obj.max_tokens) ?? positiveInt(obj.max_completion_tokens) ?? positiveInt(obj.max_output_tokens),
      json: obj,
    },
  };
}
