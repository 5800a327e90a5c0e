// Vocabulary of the simulated engine: what callers submit, what they hear back, and the event log.

export type FinishReason = 'stop' | 'length' | 'abort';

/** One request as the engine sees it (already tokenized and validated by the API layer). */
export interface SubmitSpec {
  /** Unique among live requests; generated when absent. */
  readonly id?: string;
  readonly promptTokens: number;
  /** Chained hashes of the prompt's full blocks (block-hash.ts); empty disables prefix caching for it. */
  readonly blockHashes?: readonly number[];
  /** Upper bound on output tokens. @default maxModelLen - promptTokens (as vLLM) */
  readonly maxTokens?: number;
  /** Generate exactly `maxTokens` (vLLM `ignore_eos`). @default false */
  readonly ignoreEos?: boolean;
  /** Forces the output length (a test hook), capped by `maxTokens`. */
  readonly outputTokens?: number;
  /** Lower is served first under the `priority` policy. @default 0 */
  readonly priority?: number;
  /** LoRA adapter the request runs with. */
  readonly lora?: string;
}

export interface RequestResult {
  readonly id: string;
  readonly reason: FinishReason;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** Prompt tokens served from the prefix cache at the request's first admission. */
  readonly cachedTokens: number;
  readonly preemptions: number;
  readonly arrivalMs: number;
  readonly firstTokenMs: number | undefined;
  readonly finishMs: number;
}

/** Per-request callbacks; called synchronously from the step loop, so they must not block. */
export interface RequestListener {
  /** `finish` is set on the request's last token, so a stream can mark its final chunk without waiting. */
  onToken?(index: number, timeMs: number, finish: 'stop' | 'length' | undefined): void;
  onFinish?(result: RequestResult): void;
}

/** The engine's event log: every state change, in order, with virtual timestamps (ms). */
export type EngineEvent =
  | { readonly kind: 'arrive'; readonly t: number; readonly id: string; readonly promptTokens: number; readonly targetTokens: number }
  | { readonly kind: 'queue'; readonly t: number; readonly id: string }
  | {
      readonly kind: 'admit';
      readonly t: number;
      readonly id: string;
      /** Tokens looked up in the prefix cache, and how many of them hit. */
      readonly queriedTokens: number;
      readonly cachedTokens: number;
      /** Time since the request entered the queue (first admission) or was preempted. */
      readonly queueMs: number;
      readonly resumed: boolean;
    }
  | { readonly kind: 'preempt'; readonly t: number; readonly id: string }
  | {
      readonly kind: 'step';
      readonly t: number;
      readonly durationMs: number;
      readonly prefillTokens: number;
      readonly decodeSeqs: number;
      readonly contextTokens: number;
      readonly running: number;
      readonly waiting: number;
      readonly usedBlocks: number;
    }
  | {
      readonly kind: 'token';
      readonly t: number;
      readonly id: string;
      readonly index: number;
      /** For the first token: time from arrival (TTFT) and prompt length; later: time since the last token. */
      readonly latencyMs: number;
      readonly promptTokens: number;
    }
  | {
      readonly kind: 'finish';
      readonly t: number;
      readonly id: string;
      readonly reason: FinishReason;
      readonly outputTokens: number;
      readonly e2eMs: number;
    };

export type EngineObserver = (event: EngineEvent) => void;

/** A point-in-time view for /metrics and tests. */
export interface EngineStats {
  readonly waiting: number;
  readonly running: number;
  /** Requests still in API overhead, not yet queued. */
  readonly arriving: number;
  readonly kvUsage: number;
  readonly usedBlocks: number;
  readonly totalBlocks: number;
  readonly preemptions: number;
  readonly runningLoras: readonly string[];
  readonly waitingLoras: readonly string[];
  /** Virtual time of the end of the step in flight, if any. */
  readonly stepEndMs: number | undefined;
}
