// Reads token usage from a model server's response, JSON or SSE, without holding more than a bounded tail.
// OpenAI-compatible servers put `usage` in the JSON body, or in the last SSE data chunk when the client asked for
// `stream_options.include_usage`.

export interface TokenUsage {
  readonly promptTokens: number;
  readonly outputTokens: number;
}

/** Bytes of the response kept for parsing; usage sits at the end of both JSON and SSE bodies. */
export const DEFAULT_USAGE_TAIL_BYTES = 64 * 1024;

function usageOf(value: unknown): TokenUsage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const usage = (value as { usage?: unknown }).usage;
  if (typeof usage !== 'object' || usage === null) return undefined;
  const u = usage as Record<string, unknown>;
  const prompt = u.prompt_tokens ?? u.input_tokens;
  const output = u.completion_tokens ?? u.output_tokens;
  if (typeof prompt !== 'number' || typeof output !== 'number') return undefined;
  if (!Number.isFinite(prompt) || !Number.isFinite(output) || prompt < 0 || output < 0) return undefined;
  return { promptTokens: prompt, outputTokens: output };
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The JSON object following the last occurrence of `key` in `text`, by brace matching (strings respected). */
function objectAfterKey(text: string, key: string): string {
  const at = text.lastIndexOf(key);
  if (at < 0) return '';
  const open = text.indexOf('{', at + key.length);
  if (open < 0) return '';
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(open, i + 1);
  }
  return '';
}

export class UsageReader {
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private truncated = false;
  private sse = false;

  constructor(private readonly maxTailBytes = DEFAULT_USAGE_TAIL_BYTES) {}

  onHeaders(headers: ReadonlyMap<string, string>): void {
    this.sse = (headers.get('content-type') ?? '').includes('text/event-stream');
  }

  onBody(chunk: Buffer): void {
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    while (this.tailBytes - (this.tail[0]?.length ?? 0) >= this.maxTailBytes && this.tail.length > 1) {
      this.tailBytes -= this.tail.shift()?.length ?? 0;
      this.truncated = true;
    }
  }

  /** The usage the response reported, if any could be read. */
  usage(): TokenUsage | undefined {
    const text = Buffer.concat(this.tail).toString('utf8');
    if (this.sse || text.startsWith('data:') || text.includes('\ndata:')) return this.fromSse(text);
    if (!this.truncated) return usageOf(tryParse(text));
    // A JSON body larger than the tail (batched embeddings, long completions): servers write `usage` last, so
    // the object that follows its key is in the tail.
    return usageOf({ usage: tryParse(objectAfterKey(text, '"usage"')) });
  }

  private fromSse(text: string): TokenUsage | undefined {
    const lines = text.split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = (lines[i] ?? '').trim();
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]' || !data.includes('"usage"')) continue;
      const usage = usageOf(tryParse(data));
      if (usage !== undefined) return usage;
    }
    return undefined;
  }
}
