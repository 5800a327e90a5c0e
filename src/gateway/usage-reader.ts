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
    // A truncated JSON body cannot be parsed; servers put usage last, but a JSON tail is not JSON.
    return this.truncated ? undefined : usageOf(tryParse(text));
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
