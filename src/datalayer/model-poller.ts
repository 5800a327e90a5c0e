// Model poller: asks every endpoint of the pool for its `/v1/models` listing, slowly (every 10 s by default: the
// models a server serves change with a deployment or an adapter load, not per request), and keeps the last good
// listing per endpoint for the scheduler (ServedModelsView). Owns its timers and its HTTP agent.
import { Agent } from 'undici';
import { type Clock, type Logger, type TimerHandle, describe, noopLogger, requirePositive, systemClock } from '../core/index.js';
import { endpointId } from './endpoint.js';
import { type HttpMetricsFetcherOptions, tlsConnectOptions } from './metrics-fetcher.js';
import { type EndpointSource, type EndpointSpec } from './endpoint-source.js';
import { type ServedModels, type ServedModelsView, parseModelList } from './served-models.js';

export const DEFAULT_MODELS_PATH = '/v1/models';
export const DEFAULT_MODELS_INTERVAL_MS = 10_000;
export const DEFAULT_MODELS_TIMEOUT_MS = 2_000;
/** A listing is a few KB; a larger answer is not a listing. */
const MAX_LISTING_BYTES = 1024 * 1024;
/** First polls of a large pool are spread over this much, so 1,000 pods appearing are not asked at once. */
const FIRST_POLL_SPREAD_MS = 1_000;

/** What an endpoint answered: a body with HTTP 200, or another status (no listing there). Network errors reject. */
export type ModelListAnswer = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly status: number };

/** Fetches one listing; the poller never overlaps two calls to one endpoint. */
export interface ModelListClient {
  fetch(target: { readonly host: string; readonly port: number; readonly path: string }, signal: AbortSignal): Promise<ModelListAnswer>;
  close(): Promise<void>;
}

export interface ModelPollerOptions {
  /** The pool's members (membership changes only; the poller does not follow every metrics snapshot). */
  readonly source: EndpointSource;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** @default DEFAULT_MODELS_INTERVAL_MS */
  readonly intervalMs?: number;
  /** @default DEFAULT_MODELS_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** @default DEFAULT_MODELS_PATH */
  readonly path?: string;
  /** @default an undici client with its own keep-alive agent */
  readonly client?: ModelListClient;
  /** Called when an endpoint's listing changes (appears, changes, goes). */
  readonly onChange?: () => void;
}

type State = 'unknown' | 'listed' | 'no-listing' | 'failing';

interface Member {
  readonly host: string;
  readonly port: number;
  models: ServedModels | undefined;
  state: State;
  timer: TimerHandle | undefined;
  abort: AbortController | undefined;
}

/** `of` is an O(1) map lookup; each poll is O(listing). */
export class ModelPoller implements ServedModelsView {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly path: string;
  private readonly client: ModelListClient;
  private readonly members = new Map<string, Member>();
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: ModelPollerOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? noopLogger;
    this.intervalMs = requirePositive('intervalMs', options.intervalMs ?? DEFAULT_MODELS_INTERVAL_MS);
    this.timeoutMs = requirePositive('timeoutMs', options.timeoutMs ?? DEFAULT_MODELS_TIMEOUT_MS);
    this.path = options.path ?? DEFAULT_MODELS_PATH;
    this.client = options.client ?? new HttpModelListClient();
  }

  of(id: string): ServedModels | undefined {
    return this.members.get(id)?.models;
  }

  start(): void {
    if (this.closed || this.unsubscribe !== undefined) return;
    this.unsubscribe = this.options.source.subscribe((endpoints) => this.reconcile(endpoints));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const id of [...this.members.keys()]) this.remove(id);
    await this.client.close();
  }

  private reconcile(endpoints: readonly EndpointSpec[]): void {
    if (this.closed) return;
    const wanted = new Set<string>();
    let added = 0;
    for (const spec of endpoints) {
      const id = endpointId(spec.host, spec.port);
      wanted.add(id);
      if (this.members.has(id)) continue;
      const member: Member = { host: spec.host, port: spec.port, models: undefined, state: 'unknown', timer: undefined, abort: undefined };
      this.members.set(id, member);
      this.schedule(id, member, Math.min(FIRST_POLL_SPREAD_MS, this.intervalMs) * ((added++ % 64) / 64));
    }
    let removed = false;
    for (const id of [...this.members.keys()]) {
      if (!wanted.has(id)) removed = this.remove(id) || removed;
    }
    if (removed) this.changed();
  }

  /** Returns whether the endpoint had a listing (so its departure changes what is served). */
  private remove(id: string): boolean {
    const member = this.members.get(id);
    if (member === undefined) return false;
    if (member.timer !== undefined) this.clock.clearTimeout(member.timer);
    member.abort?.abort();
    this.members.delete(id);
    return member.models !== undefined;
  }

  private schedule(id: string, member: Member, delayMs: number): void {
    member.timer = this.clock.setTimeout(() => {
      member.timer = undefined;
      void this.poll(id, member);
    }, delayMs);
  }

  private async poll(id: string, member: Member): Promise<void> {
    if (this.members.get(id) !== member) return;
    const abort = (member.abort = new AbortController());
    const timeout = this.clock.setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      const answer = await this.client.fetch({ host: member.host, port: member.port, path: this.path }, abort.signal);
      if (this.members.get(id) !== member) return;
      const models = answer.ok ? parseModelList(answer.text, this.clock.now()) : undefined;
      if (models !== undefined) this.update(id, member, 'listed', models);
      else this.update(id, member, 'no-listing', undefined, answer.ok ? 'not an OpenAI model list' : `HTTP ${answer.status}`);
    } catch (err) {
      // Unreachable or timed out: what it serves has not changed because it is down (its metrics say it is).
      if (this.members.get(id) === member) this.update(id, member, 'failing', member.models, describe(err));
    } finally {
      this.clock.clearTimeout(timeout);
      member.abort = undefined;
      if (this.members.get(id) === member && !this.closed) this.schedule(id, member, this.intervalMs);
    }
  }

  private update(id: string, member: Member, state: State, models: ServedModels | undefined, why?: string): void {
    const before = member.models;
    member.models = models;
    if (state !== member.state) {
      // Logged on transitions only: a server without a listing would otherwise log every interval.
      if (state === 'no-listing') this.logger.warn({ endpoint: id, path: this.path, reason: why }, 'endpoint has no usable model listing; it may be sent any model');
      else if (state === 'failing') this.logger.debug({ endpoint: id, reason: why }, 'model listing failed; keeping the last one');
      else if (state === 'listed' && member.state !== 'unknown') this.logger.info({ endpoint: id }, 'model listing available again');
      member.state = state;
    }
    if (!sameModels(before, models)) {
      if (models !== undefined) this.logger.info({ endpoint: id, models: [...models.bases], adapters: [...models.adapters.keys()] }, 'endpoint serves');
      this.changed();
    }
  }

  private changed(): void {
    try {
      this.options.onChange?.();
    } catch (err) {
      this.logger.error({ err }, 'model listing listener threw');
    }
  }
}

function sameModels(a: ServedModels | undefined, b: ServedModels | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.bases.size !== b.bases.size || a.adapters.size !== b.adapters.size) return false;
  for (const m of a.bases) if (!b.bases.has(m)) return false;
  for (const [m, base] of a.adapters) if (b.adapters.get(m) !== base) return false;
  return true;
}

/**
 * How model servers are reached: the scraper's own scheme, CA and bearer token, since a server that secures
 * `/metrics` (vLLM's `--api-key`, TLS) secures `/v1/models` the same way.
 */
export type ModelListAccess = Pick<HttpMetricsFetcherOptions, 'scheme' | 'tls' | 'bearerToken'>;

/** undici over its own keep-alive agent (closed with the poller); bodies over 1 MiB are cut and refused. */
export class HttpModelListClient implements ModelListClient {
  private readonly agent: Agent;
  private readonly scheme: 'http' | 'https';
  private readonly token: (() => string | undefined) | undefined;

  constructor(access: ModelListAccess = {}) {
    this.scheme = access.scheme ?? 'http';
    this.token = access.bearerToken;
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 1,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      ...(this.scheme === 'https' ? { connect: tlsConnectOptions(access.tls) } : {}),
    });
  }

  async fetch(target: { readonly host: string; readonly port: number; readonly path: string }, signal: AbortSignal): Promise<ModelListAnswer> {
    const token = this.token?.();
    const { statusCode, body } = await this.agent.request({
      origin: `${this.scheme}://${endpointId(target.host, target.port)}`,
      path: target.path,
      method: 'GET',
      signal,
      headers: token !== undefined && token !== '' ? { accept: 'application/json', authorization: `Bearer ${token}` } : { accept: 'application/json' },
    });
    body.on('error', () => undefined);
    if (statusCode !== 200) {
      await body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      return { ok: false, status: statusCode };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body as AsyncIterable<unknown>) {
      if (!Buffer.isBuffer(chunk)) continue;
      size += chunk.length;
      if (size > MAX_LISTING_BYTES) {
        body.destroy();
        return { ok: true, text: '' };
      }
      chunks.push(chunk);
    }
    return { ok: true, text: Buffer.concat(chunks, size).toString('utf8') };
  }

  close(): Promise<void> {
    return this.agent.destroy().catch(() => undefined);
  }
}
