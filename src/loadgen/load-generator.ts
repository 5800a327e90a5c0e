// Open-loop load generator: Poisson arrivals per traffic class against an OpenAI-compatible endpoint, streaming
// responses, measuring time to first token and end-to-end latency. Bounded in count and time by construction.
import { Agent, request } from 'undici';
import { type Random, SeededRandom } from '../core/index.js';
import { type TrafficClass, makePrompt, nextGapMs } from './traffic.js';

export interface RequestRecord {
  readonly className: string;
  readonly tenant: string;
  readonly sentAtMs: number;
  readonly status: number;
  /** `x-fairway-drop-reason` of a shed request, `error` for a transport failure. */
  readonly dropReason: string | undefined;
  readonly retryAfter: string | undefined;
  readonly ttftMs: number | undefined;
  readonly e2eMs: number;
  readonly outputTokens: number;
  readonly promptTokens: number;
}

export interface LoadOptions {
  /** Base URL of the proxy, e.g. http://127.0.0.1:8081 */
  readonly target: string;
  readonly classes: readonly TrafficClass[];
  readonly durationMs: number;
  readonly model: string;
  readonly seed?: number;
  /** Hard cap on requests sent in the run. @default 20000 */
  readonly maxRequests?: number;
  /** Called about once a second with the records so far. */
  readonly onProgress?: (records: readonly RequestRecord[], elapsedMs: number) => void;
  /** Per-request timeout, ms. @default 120000 */
  readonly requestTimeoutMs?: number;
}

interface SseTally {
  outputTokens: number;
  promptTokens: number;
}

function readUsage(line: string, tally: SseTally): void {
  if (!line.startsWith('data:') || !line.includes('"usage"')) return;
  try {
    const parsed = JSON.parse(line.slice(5)) as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
    if (typeof parsed.usage?.completion_tokens === 'number') tally.outputTokens = parsed.usage.completion_tokens;
    if (typeof parsed.usage?.prompt_tokens === 'number') tally.promptTokens = parsed.usage.prompt_tokens;
  } catch {
    // A partial line across chunks: the usage chunk is small and normally arrives whole.
  }
}

async function sendOne(
  dispatcher: Agent,
  o: LoadOptions,
  cls: TrafficClass,
  prompt: string,
  startedAt: number,
): Promise<RequestRecord> {
  const sentAt = performance.now();
  const base = { className: cls.name, tenant: cls.tenant, sentAtMs: sentAt - startedAt };
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-gateway-inference-fairness-id': cls.tenant,
  };
  if (cls.objective !== undefined) headers['x-gateway-inference-objective'] = cls.objective;
  const body = JSON.stringify({
    model: o.model,
    prompt,
    max_tokens: cls.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
    ignore_eos: true,
  });
  try {
    const res = await request(`${o.target}/v1/completions`, {
      method: 'POST',
      headers,
      body,
      dispatcher,
      headersTimeout: o.requestTimeoutMs ?? 120_000,
      bodyTimeout: o.requestTimeoutMs ?? 120_000,
    });
    let ttft: number | undefined;
    const tally: SseTally = { outputTokens: 0, promptTokens: 0 };
    let pending = '';
    for await (const chunk of res.body) {
      ttft ??= performance.now() - sentAt;
      pending += (chunk as Buffer).toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) readUsage(line, tally);
    }
    readUsage(pending, tally);
    const dropHeader = res.headers['x-fairway-drop-reason'];
    const retryAfter = res.headers['retry-after'];
    return {
      ...base,
      status: res.statusCode,
      dropReason: typeof dropHeader === 'string' ? dropHeader : res.statusCode >= 400 ? `http-${res.statusCode}` : undefined,
      retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
      ttftMs: res.statusCode < 400 ? ttft : undefined,
      e2eMs: performance.now() - sentAt,
      outputTokens: tally.outputTokens,
      promptTokens: tally.promptTokens,
    };
  } catch {
    return { ...base, status: 0, dropReason: 'error', retryAfter: undefined, ttftMs: undefined, e2eMs: performance.now() - sentAt, outputTokens: 0, promptTokens: 0 };
  }
}

/** Runs the scenario in real time; resolves with one record per request sent, after every response ended. */
export async function runLoad(o: LoadOptions): Promise<RequestRecord[]> {
  const random: Random = new SeededRandom(o.seed ?? 1);
  const maxRequests = o.maxRequests ?? 20_000;
  // Arrival times are drawn up front, so the same seed always sends the same schedule.
  const schedule: { at: number; cls: TrafficClass; prompt: string }[] = [];
  for (const cls of o.classes) {
    const prefix = makePrompt(random, Math.ceil((cls.sharedPrefixChars ?? 0) / 4), '');
    const start = cls.startMs ?? 0;
    const stop = Math.min(cls.stopMs ?? o.durationMs, o.durationMs);
    for (let t = start + nextGapMs(random, cls.ratePerSecond); t < stop; t += nextGapMs(random, cls.ratePerSecond)) {
      schedule.push({ at: t, cls, prompt: makePrompt(random, cls.promptTokens, (cls.sharedPrefixChars ?? 0) > 0 ? prefix : '') });
    }
  }
  schedule.sort((a, b) => a.at - b.at);
  schedule.length = Math.min(schedule.length, maxRequests);

  const dispatcher = new Agent({ connections: 512, pipelining: 0, keepAliveTimeout: 10_000 });
  const records: RequestRecord[] = [];
  const inflight: Promise<void>[] = [];
  const startedAt = performance.now();
  const progress = o.onProgress !== undefined ? setInterval(() => o.onProgress?.(records, performance.now() - startedAt), 1_000) : undefined;
  try {
    for (const item of schedule) {
      const wait = item.at - (performance.now() - startedAt);
      if (wait > 1) await new Promise<void>((resolve) => setTimeout(resolve, wait));
      inflight.push(sendOne(dispatcher, o, item.cls, item.prompt, startedAt).then((r) => void records.push(r)));
    }
    await Promise.all(inflight);
  } finally {
    if (progress !== undefined) clearInterval(progress);
    await dispatcher.close();
  }
  return records;
}
