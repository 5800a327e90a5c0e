// Proxy mode's side of in-flight eviction: whether a routed request can still be taken back, the abort of its
// model-server request (the server frees its KV cache and batch slot on disconnect), and how the client is told.
import { type EvictionChannel, type RejectDecision, type StartedResponseEviction, openAiErrorBody } from '../gateway/index.js';

export class ProxyEviction {
  /**
   * Aborts the model-server request when the client goes away or flow control takes the request back. Only an
   * evictable request needs one of its own; any other's upstream request follows the client's signal (a controller,
   * its signal and a listener fewer per request).
   */
  private readonly upstream: AbortController | undefined;
  private readonly onClientAbort: (() => void) | undefined;
  private started = false;
  private finished = false;
  private taken: RejectDecision | undefined;

  constructor(
    private readonly client: AbortSignal,
    channel: EvictionChannel | undefined,
    private readonly policy: StartedResponseEviction,
    /** Called synchronously when an eviction is accepted: the response observer ends with `evicted`. */
    private readonly onEvicted: () => void,
  ) {
    if (channel === undefined) return;
    const upstream = (this.upstream = new AbortController());
    if (client.aborted) upstream.abort();
    else client.addEventListener('abort', (this.onClientAbort = () => upstream.abort()), { once: true });
    channel.listen((rejection) => this.evict(rejection));
  }

  /** The model-server request's signal. */
  get signal(): AbortSignal {
    return this.upstream?.signal ?? this.client;
  }

  /** The 429 the client gets, once evicted. */
  get rejection(): RejectDecision | undefined {
    return this.taken;
  }

  /** The first byte is about to go to the client. */
  markStarted(): void {
    this.started = true;
  }

  /** The response is complete: there is nothing left to take back. */
  markFinished(): void {
    this.finished = true;
  }

  dispose(): void {
    if (this.onClientAbort !== undefined) this.client.removeEventListener('abort', this.onClientAbort);
  }

  private evict(rejection: RejectDecision): boolean {
    if (this.finished || this.taken !== undefined) return false;
    if (this.started && this.policy === 'spare') return false;
    this.taken = rejection;
    this.onEvicted();
    // Not from inside flow control's dispatch cycle: the abort tears the upstream socket down.
    queueMicrotask(() => this.upstream?.abort());
    return true;
  }
}

/** The SSE events that end an evicted stream the way an OpenAI-compatible server reports a failure mid-stream. */
export function sseEvictionEvents(rejection: RejectDecision): string {
  return `data: ${openAiErrorBody(rejection.status, rejection.reason, rejection.message)}\n\ndata: [DONE]\n\n`;
}
