// Serves one completion or chat request: validation, engine submission, JSON or SSE answer, disconnect abort.
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { textBlockHashes, tokenBlockHashes } from './block-hash.js';
import { type SimEngine } from './engine.js';
import { type RequestResult } from './engine-types.js';
import { ApiError } from './openai-errors.js';
import { type ApiKind, type InferenceRequest, parseInferenceRequest } from './openai-request.js';
import {
  DONE_CHUNK,
  type ResponseContext,
  responseBody,
  roleChunk,
  tokenChunk,
  tokenText,
  usageChunk,
} from './openai-response.js';

/** Header that forces the output length (a test hook), capped by max_tokens. */
export const OUTPUT_TOKENS_HEADER = 'x-sim-output-tokens';

/** What the handler needs from its server. */
export interface InferenceContext {
  readonly engine: SimEngine;
  readonly servedModel: string;
  /** Loaded LoRA adapters (a request naming one as its model runs with it). */
  readonly loras: ReadonlySet<string>;
  /** A fresh response id suffix. */
  nextId(): string;
  /** Unix seconds for `created`. */
  createdNow(): number;
}

/** Validates and submits; returns when the response is complete or the client has gone. Throws ApiError. */
export function handleInference(
  ctx: InferenceContext,
  api: ApiKind,
  rawBody: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const parsed = parseInferenceRequest(api, rawBody);
  const model = parsed.model ?? ctx.servedModel;
  let lora: string | undefined;
  if (model !== ctx.servedModel) {
    if (!ctx.loras.has(model)) throw new ApiError(404, `The model \`${model}\` does not exist.`, 'model');
    lora = model;
  }
  checkContext(ctx.engine.profile.maxModelLen, parsed);
  const forced = forcedOutputTokens(req.headers[OUTPUT_TOKENS_HEADER]);
  const blockSize = ctx.engine.profile.blockSize;
  const salt = `${ctx.servedModel}|${lora ?? ''}|${parsed.cacheSalt ?? ''}`;
  const blockHashes =
    parsed.promptIds !== undefined
      ? tokenBlockHashes(parsed.promptIds, blockSize, salt)
      : textBlockHashes(parsed.promptText ?? '', blockSize, salt);
  const rc: ResponseContext = {
    api,
    id: `${api === 'chat' ? 'chatcmpl' : 'cmpl'}-${ctx.nextId()}`,
    created: ctx.createdNow(),
    model,
  };
  let done = false;
  const finishJson = (result: RequestResult): void => {
    done = true;
    if (result.reason === 'abort') {
      if (!res.headersSent) res.destroy();
      return;
    }
    const body = responseBody(rc, result.reason, usageOf(result));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const finishStream = (result: RequestResult): void => {
    done = true;
    if (result.reason === 'abort') {
      res.end();
      return;
    }
    if (parsed.includeUsage) res.write(usageChunk(rc, usageOf(result)));
    res.end(DONE_CHUNK);
  };
  if (parsed.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    if (api === 'chat') res.write(roleChunk(rc));
  }
  const id = ctx.engine.submit(
    {
      promptTokens: parsed.promptTokens,
      blockHashes,
      maxTokens: parsed.maxTokens,
      ignoreEos: parsed.ignoreEos,
      outputTokens: forced,
      priority: parsed.priority,
      lora,
    },
    parsed.stream
      ? {
          onToken: (index, _t, finish) => res.write(tokenChunk(rc, tokenText(index), finish ?? null)),
          onFinish: finishStream,
        }
      : { onFinish: finishJson },
  );
  // A client that goes away aborts the request, which frees its blocks at once.
  res.on('close', () => {
    if (!done) ctx.engine.abort(id);
  });
}

function usageOf(result: RequestResult): { promptTokens: number; completionTokens: number } {
  return { promptTokens: result.promptTokens, completionTokens: result.outputTokens };
}

/** vLLM's pre-queue length checks, with its wording. */
function checkContext(maxModelLen: number, r: InferenceRequest): void {
  const p = r.promptTokens;
  if (r.maxTokens === undefined) {
    if (p >= maxModelLen) {
      throw new ApiError(
        400,
        `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${p} input ` +
          'tokens. Please reduce the length of the input messages.',
      );
    }
    return;
  }
  if (p + r.maxTokens > maxModelLen) {
    throw new ApiError(
      400,
      `'max_tokens' or 'max_completion_tokens' is too large: ${r.maxTokens}. This model's maximum context ` +
        `length is ${maxModelLen} tokens and your request has ${p} input tokens ` +
        `(${r.maxTokens} > ${maxModelLen} - ${p}).`,
    );
  }
}

function forcedOutputTokens(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = Number(Array.isArray(header) ? header[0] : header);
  if (!Number.isInteger(value) || value < 1) {
    throw new ApiError(400, `${OUTPUT_TOKENS_HEADER} must be a positive integer`);
  }
  return value;
}
