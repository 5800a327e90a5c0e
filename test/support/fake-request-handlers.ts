// Fakes of the request pipeline (RequestHandler), named by behaviour, plus an observer that records what it saw.
import {
  type Decision,
  type EvictionChannel,
  type InferenceRequest,
  type RejectDecision,
  type RequestHandler,
  type ResponseEnd,
  type ResponseObserver,
  bodyToBuffer,
} from '../../src/gateway/index.js';

export type EndHow = ResponseEnd;

/** Records every ResponseObserver callback in order; `ended` resolves at the first onEnd. */
export class RecordingObserver implements ResponseObserver {
  readonly events: string[] = [];
  status: number | undefined;
  headers: ReadonlyMap<string, string> | undefined;
  readonly chunks: Buffer[] = [];
  served: string | undefined;
  readonly ends: EndHow[] = [];
  readonly ended: Promise<EndHow>;
  private resolveEnded!: (how: EndHow) => void;

  constructor() {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  onHeaders(status: number, headers: ReadonlyMap<string, string>): void {
    this.events.push('headers');
    this.status = status;
    this.headers = headers;
  }

  onBody(chunk: Buffer): void {
    this.events.push('body');
    this.chunks.push(Buffer.from(chunk));
  }

  /** Counted apart from `events`, which tests compare whole. */
  responseStarts = 0;

  onResponseStarted(): void {
    this.responseStarts++;
  }

  onServedEndpoint(endpoint: string): void {
    this.events.push('served');
    this.served = endpoint;
  }

  readonly connectFailures: { endpoint: string; retrying: boolean }[] = [];

  onConnectFailed(endpoint: string, retrying: boolean): void {
    this.events.push('connect-failed');
    this.connectFailures.push({ endpoint, retrying });
  }

  onEnd(how: EndHow): void {
    this.events.push(`end:${how}`);
    this.ends.push(how);
    this.resolveEnded(how);
  }

  body(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** A RequestHandler that records requests and the observers it handed out, deciding with `decide`. */
export class FakeRequestHandler implements RequestHandler {
  readonly requests: InferenceRequest[] = [];
  readonly observers: RecordingObserver[] = [];

  constructor(private readonly decide: (request: InferenceRequest, observer: RecordingObserver) => Promise<Decision> | Decision) {}

  async handle(request: InferenceRequest): Promise<Decision> {
    this.requests.push(request);
    const observer = new RecordingObserver();
    this.observers.push(observer);
    return this.decide(request, observer);
  }

  lastRequest(): InferenceRequest {
    const r = this.requests.at(-1);
    if (r === undefined) throw new Error('no request handled yet');
    return r;
  }

  lastObserver(): RecordingObserver {
    const o = this.observers.at(-1);
    if (o === undefined) throw new Error('no request handled yet');
    return o;
  }
}

export interface RouteOptions {
  readonly setHeaders?: Readonly<Record<string, string>>;
}

/** Routes every request to the same endpoints (primary first), body unchanged (the same Buffer). */
export function routesToFixedEndpoint(endpoints: string | readonly string[], options: RouteOptions = {}): FakeRequestHandler {
  const list = typeof endpoints === 'string' ? [endpoints] : endpoints;
  return new FakeRequestHandler((request, observer) => ({
    kind: 'route',
    endpoints: list,
    body: request.body,
    setHeaders: new Map(Object.entries(options.setHeaders ?? {})),
    response: observer,
  }));
}

/** Routes like `routesToFixedEndpoint`, with an eviction channel the test fires through `evict`. */
export class RoutesEvictably extends FakeRequestHandler {
  private listener: ((rejection: RejectDecision) => boolean) | undefined;

  constructor(endpoint: string) {
    super((request, observer) => {
      const eviction: EvictionChannel = { listen: (handler) => (this.listener = handler) };
      return { kind: 'route', endpoints: [endpoint], body: request.body, setHeaders: new Map(), response: observer, eviction };
    });
  }

  /** As flow control would: returns whether the front end took the request back. */
  evict(message = 'evicted for priority 10 work'): boolean {
    if (this.listener === undefined) throw new Error('the front end never listened for evictions');
    return this.listener({ kind: 'reject', status: 429, reason: 'evicted', message, retryAfterSeconds: 1 });
  }
}

/** Rejects every request with the given status, reason, message and Retry-After. */
export function rejectsWith(reject: Omit<RejectDecision, 'kind'>): FakeRequestHandler {
  return new FakeRequestHandler(() => ({ kind: 'reject', ...reject }));
}

/** Routes to `endpoint` with the body replaced by `rewrite(body)` (a new Buffer). */
export function rewritesBody(endpoint: string, rewrite: (body: Buffer) => Buffer): FakeRequestHandler {
  return new FakeRequestHandler((request, observer) => ({
    kind: 'route',
    endpoints: [endpoint],
    body: rewrite(bodyToBuffer(request.body)),
    setHeaders: new Map(),
    response: observer,
  }));
}

/**
 * Holds every request (like a full queue) until its signal aborts, then answers with `then`: a route (whose
 * observer must still get onEnd('aborted')) or a 503 reject. `started` resolves when the first request arrives.
 */
export class WaitsUntilAborted extends FakeRequestHandler {
  readonly started: Promise<InferenceRequest>;
  readonly aborted: Promise<InferenceRequest>;

  constructor(then: 'route' | 'reject' = 'reject') {
    let onStart!: (r: InferenceRequest) => void;
    let onAbort!: (r: InferenceRequest) => void;
    super(
      (request, observer) =>
        new Promise<Decision>((resolve) => {
          onStart(request);
          const answer = (): void => {
            onAbort(request);
            resolve(
              then === 'route'
                ? { kind: 'route', endpoints: ['10.0.0.1:8000'], body: request.body, setHeaders: new Map(), response: observer }
                : { kind: 'reject', status: 503, reason: 'cancelled', message: 'client went away' },
            );
          };
          if (request.signal.aborted) answer();
          else request.signal.addEventListener('abort', answer, { once: true });
        }),
    );
    this.started = new Promise((resolve) => (onStart = resolve));
    this.aborted = new Promise((resolve) => (onAbort = resolve));
  }
}

export function waitsUntilAborted(then: 'route' | 'reject' = 'reject'): WaitsUntilAborted {
  return new WaitsUntilAborted(then);
}

/** Throws instead of answering: the truly unexpected. */
export function throwsError(message = 'boom'): FakeRequestHandler {
  return new FakeRequestHandler(() => {
    throw new Error(message);
  });
}
