// One simulated vLLM server: an engine behind node:http with vLLM's OpenAI routes, /metrics and test hooks.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import {
  type Clock,
  type Logger,
  InvalidArgumentError,
  SeededRandom,
  noopLogger,
  requireIntegerInRange,
  systemClock,
} from '../core/index.js';
import { DEFAULT_MAX_LORAS, DEFAULT_SEED, SimEngine } from './engine.js';
import { type FakeMetrics } from './fake-metrics.js';
import { type FailureKind, FailureInjector } from './failure-injector.js';
import { handleInference, type InferenceContext } from './inference-handler.js';
import { requestedNames, restrictExposition } from './name-filter.js';
import { ApiError, errorBody } from './openai-errors.js';
import { type ProfileName, type SimProfile, getProfile } from './profile.js';
import { SimMetrics } from './sim-metrics.js';
import { type SchedulingPolicy } from './waiting-queue.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_MODEL = 'sim-model';
export const DEFAULT_PROFILE: ProfileName = 'ci';
/** Largest request body accepted (bytes); larger bodies get 413. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface SimServerOptions {
  /** @default DEFAULT_HOST */
  readonly host?: string;
  /** 0 picks an ephemeral port. @default 0 */
  readonly port?: number;
  /** @default DEFAULT_PROFILE */
  readonly profile?: ProfileName | SimProfile;
  /** Served model name. @default DEFAULT_MODEL */
  readonly model?: string;
  /** LoRA adapters loaded at start; giving this (or maxLoras) enables LoRA. */
  readonly loras?: readonly string[];
  /** @default DEFAULT_MAX_LORAS */
  readonly maxLoras?: number;
  /** Seeds output lengths, response ids and failure injection. @default DEFAULT_SEED */
  readonly seed?: number;
  /** @default 1 */
  readonly timeScale?: number;
  /** A slow pod has 0.5. @default 1 */
  readonly speedFactor?: number;
  /** @default 'fcfs' */
  readonly schedulingPolicy?: SchedulingPolicy;
  /** Mean output length of requests that may stop early. */
  readonly meanNaturalOutputTokens?: number;
  readonly fakeMetrics?: FakeMetrics;
  /** Fraction of inference requests that fail. @default 0 */
  readonly failureRate?: number;
  /** @default '500' */
  readonly failureKind?: FailureKind;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Wall-clock ms since the epoch (response `created`, LoRA info timestamp). @default Date.now */
  readonly wallClock?: () => number;
  /** @default DEFAULT_MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
  /** @default noopLogger */
  readonly logger?: Logger;
}

/**
 * Lifecycle: `start()` and `close()` are idempotent and promise-returning. `close()` aborts live requests, drops
 * hanging ones (failure injection) and closes every connection.
 */
export class SimServer {
  readonly engine: SimEngine;
  readonly metrics: SimMetrics;
  readonly model: string;
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly loras: Set<string>;
  private readonly loraEnabled: boolean;
  private readonly random: SeededRandom;
  private readonly failures: FailureInjector;
  private readonly wallClock: () => number;
  private readonly maxBodyBytes: number;
  private readonly logger: Logger;
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();
  private readonly ctx: InferenceContext;
  private starting: Promise<{ host: string; port: number }> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: SimServerOptions = {}) {
    const profile = options.profile ?? DEFAULT_PROFILE;
    const seed = options.seed ?? DEFAULT_SEED;
    const clock = options.clock ?? systemClock;
    this.host = options.host ?? DEFAULT_HOST;
    this.requestedPort = requireIntegerInRange('port', options.port ?? 0, 0, 65_535);
    this.model = options.model ?? DEFAULT_MODEL;
    this.loras = new Set(options.loras ?? []);
    this.loraEnabled = options.loras !== undefined || options.maxLoras !== undefined;
    const maxLoras = options.maxLoras ?? DEFAULT_MAX_LORAS;
    this.engine = new SimEngine({
      profile: typeof profile === 'string' ? getProfile(profile) : profile,
      clock,
      random: new SeededRandom(seed),
      timeScale: options.timeScale,
      speedFactor: options.speedFactor,
      schedulingPolicy: options.schedulingPolicy,
      maxLoras,
      meanNaturalOutputTokens: options.meanNaturalOutputTokens,
    });
    this.wallClock = options.wallClock ?? Date.now;
    this.metrics = new SimMetrics({
      engine: this.engine,
      model: this.model,
      maxLoras: this.loraEnabled ? maxLoras : undefined,
      wallClock: this.wallClock,
    });
    this.metrics.setFake(options.fakeMetrics);
    // Separate streams so that turning failures on does not change output lengths.
    this.random = new SeededRandom(seed ^ 0x5eed);
    this.failures = new FailureInjector(
      options.failureRate ?? 0,
      options.failureKind ?? '500',
      new SeededRandom(seed ^ 0xfa11),
    );
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.logger = options.logger ?? noopLogger;
    this.ctx = {
      engine: this.engine,
      servedModel: this.model,
      loras: this.loras,
      nextId: () => this.responseId(),
      createdNow: () => Math.floor(this.wallClock() / 1000),
    };
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  /** Listens; resolves with the bound address (the real port when 0 was asked). */
  start(): Promise<{ host: string; port: number }> {
    this.starting ??= new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.requestedPort, this.host, () => {
        this.server.off('error', reject);
        resolve({ host: this.host, port: (this.server.address() as AddressInfo).port });
      });
    });
    return this.starting;
  }

  get port(): number {
    const address = this.server.address();
    return address !== null && typeof address === 'object' ? address.port : this.requestedPort;
  }

  /** Replaces the fixed metric values at runtime (undefined reports the real state again). */
  setFakeMetrics(fake: FakeMetrics | undefined): void {
    this.metrics.setFake(fake);
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.engine.close();
      this.metrics.dispose();
      for (const res of this.hanging) res.destroy();
      this.hanging.clear();
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private responseId(): string {
    // 32 hex digits like vLLM's uuid-based ids, from the seeded stream so runs are reproducible.
    let id = '';
    for (let i = 0; i < 4; i++) id += Math.floor(this.random.next() * 0x100000000).toString(16).padStart(8, '0');
    return id;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const method = req.method ?? 'GET';
    try {
      if (method === 'GET' && path === '/health') {
        res.writeHead(200, { 'content-length': 0 }).end();
      } else if (method === 'GET' && path === '/metrics') {
        const names = requestedNames(req.url ?? '/');
        const text = names === undefined ? this.metrics.render() : restrictExposition(this.metrics.render(), names);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text);
      } else if (method === 'GET' && path === '/v1/models') {
        sendJson(res, 200, this.modelList());
      } else if (method === 'POST' && (path === '/v1/completions' || path === '/v1/chat/completions')) {
        this.readBody(req, res, (body) => this.onInference(path === '/v1/completions' ? 'completions' : 'chat', body, req, res));
      } else if (method === 'POST' && (path === '/v1/load_lora_adapter' || path === '/v1/unload_lora_adapter')) {
        this.readBody(req, res, (body) => this.onLora(path === '/v1/load_lora_adapter', body, res));
      } else {
        const known = ['/health', '/metrics', '/v1/models', '/v1/completions', '/v1/chat/completions'].includes(path);
        sendJson(res, known ? 405 : 404, { detail: known ? 'Method Not Allowed' : 'Not Found' });
      }
    } catch (err) {
      this.sendError(res, err);
    }
  }

  private readBody(req: IncomingMessage, res: ServerResponse, then: (body: string) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        if (tooLarge) throw new ApiError(413, `Request body exceeds ${this.maxBodyBytes} bytes`);
        then(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        this.sendError(res, err);
      }
    });
    req.on('error', () => res.destroy());
  }

  private onInference(api: 'completions' | 'chat', body: string, req: IncomingMessage, res: ServerResponse): void {
    switch (this.failures.next()) {
      case '500':
        throw new ApiError(500, 'Simulated failure (injected by the Fairway simulator)');
      case 'hang':
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case undefined:
        handleInference(this.ctx, api, body, req, res);
        return;
    }
  }

  /** vLLM's runtime LoRA endpoints: plain-text success, error JSON otherwise. */
  private onLora(load: boolean, body: string, res: ServerResponse): void {
    if (!this.loraEnabled) throw new ApiError(400, 'LoRA is not enabled on this server (no --lora adapters).');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new ApiError(400, 'JSON decode error');
    }
    const name = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).lora_name : undefined;
    if (typeof name !== 'string' || name.length === 0) throw new ApiError(400, 'Field required: body.lora_name', 'lora_name');
    if (load) {
      if (this.loras.has(name)) throw new ApiError(400, `The lora adapter '${name}' has already been loaded.`);
      this.loras.add(name);
      sendText(res, `Success: LoRA adapter '${name}' added successfully.`);
    } else {
      if (!this.loras.delete(name)) throw new ApiError(404, `The lora adapter '${name}' cannot be found.`);
      sendText(res, `Success: LoRA adapter '${name}' removed successfully.`);
    }
  }

  private modelList(): object {
    const created = Math.floor(this.wallClock() / 1000);
    const card = (id: string, parent: string | null): object => ({
      id,
      object: 'model',
      created,
      owned_by: 'vllm',
      root: id,
      parent,
      max_model_len: this.engine.profile.maxModelLen,
      permission: [],
    });
    return { object: 'list', data: [card(this.model, null), ...[...this.loras].map((l) => card(l, this.model))] };
  }

  private sendError(res: ServerResponse, err: unknown): void {
    if (err instanceof ApiError) {
      if (res.headersSent) res.destroy();
      else sendRaw(res, err.status, errorBody(err.status, err.message, err.param));
      return;
    }
    this.logger.error({ err }, 'simulator request failed');
    if (res.headersSent) res.destroy();
    else if (err instanceof InvalidArgumentError) sendRaw(res, 400, errorBody(400, err.message));
    else sendRaw(res, 500, errorBody(500, err instanceof Error ? err.message : 'internal error'));
  }
}

function sendJson(res: ServerResponse, status: number, value: object): void {
  sendRaw(res, status, JSON.stringify(value));
}

function sendRaw(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

function sendText(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}
