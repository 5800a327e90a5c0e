// End-to-end harness for the service tests: a simulated pool of `ci`-profile servers on 127.0.0.1 with a real
// FairwayServer in front (every port 0), an Envoy-like ext_proc client, and small helpers for polling, reading
// Prometheus text, and forwarding a model server's real response through the ext_proc response path.
import { type Dispatcher } from 'undici';
import { type FairwayConfigInput, validateConfig } from '../../src/config/index.js';
import { noopLogger } from '../../src/core/index.js';
import { type EndpointSnapshot } from '../../src/datalayer/index.js';
import { FairwayServer, type ListeningPorts } from '../../src/server/index.js';
import { type FakeMetrics, type ReplicaModels, type SimulatedPool, startSimulatedPool } from '../../src/simulator/index.js';
import { type EnvoyStream, EnvoyExtProcClient, type StreamStatus, setHeadersOf, streamedBodyOf } from './envoy-ext-proc-client.js';

export const TEST_MODEL = 'fairway-e2e-model';

/**
 * Polls `condition` until it holds; fails with `what` after `timeoutMs`. The deadline only ends a failing test,
 * so it is generous: conditions that take milliseconds alone took over 5 s while the whole team's suites shared
 * two cores (the in-flight eviction test's "model server aborts the victim" failed a land run at 5 s).
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
  }
}

type Section = Record<string, unknown>;

export interface ServiceOptions {
  /** @default 2 */
  readonly replicas?: number;
  /** Fake metrics per replica (index i for replica i); undefined entries report the real state. */
  readonly fakeMetrics?: readonly (FakeMetrics | undefined)[];
  /** Top-level config sections merged (one level deep) over the harness's defaults; lists replace. */
  readonly config?: Partial<Record<keyof FairwayConfigInput, Section | readonly Section[]>>;
  /** Starts the standalone proxy on port 0 too. */
  readonly proxy?: boolean;
  /** Gives Fairway an empty pool (the simulators still run, unused). */
  readonly noEndpoints?: boolean;
  /** @default 1 */
  readonly timeScale?: number;
  /** A multi-model pool: replica i serves `models[i % n]` (default: every replica serves TEST_MODEL). */
  readonly models?: readonly ReplicaModels[];
}

export interface ServiceHarness {
  readonly pool: SimulatedPool;
  readonly server: FairwayServer;
  readonly ports: ListeningPorts;
  readonly client: EnvoyExtProcClient;
  /** Endpoint ids (`host:port`) of the replicas, in replica order. */
  readonly ids: readonly string[];
  close(): Promise<void>;
}

/**
 * Starts the pool and the server. Metrics go stale only after 2 s (not the 200 ms default) so that a slow CI
 * machine missing a scrape does not change routing or gating in the middle of a test.
 */
export async function startService(options: ServiceOptions = {}): Promise<ServiceHarness> {
  const pool = await startSimulatedPool({
    replicas: options.replicas ?? 2,
    profile: 'ci',
    timeScale: options.timeScale ?? 1,
    model: TEST_MODEL,
    models: options.models,
    host: '127.0.0.1',
  });
  options.fakeMetrics?.forEach((fake, i) => pool.simulators[i]?.setFakeMetrics(fake));
  const endpoints = options.noEndpoints === true ? [] : pool.servers.map((s) => ({ host: s.host, port: s.port }));
  const over = options.config ?? {};
  const base: Record<string, Section> = {
    pool: { endpoints, metrics: { intervalMs: 50, stalenessMs: 2_000 } },
    saturation: { detector: 'hybrid', options: { stalenessMs: 2_000 } },
    server: {
      host: '127.0.0.1',
      grpcPort: 0,
      healthPort: 0,
      metricsPort: 0,
      ...(options.proxy === true ? { proxyPort: 0 } : {}),
      shutdownGraceMs: 2_000,
    },
    logging: { level: 'silent' },
  };
  const input: Record<string, unknown> = { ...base };
  for (const [key, section] of Object.entries(over)) {
    input[key] = Array.isArray(section) ? section : { ...(base[key] ?? {}), ...section };
  }
  const server = await FairwayServer.create(validateConfig(input), { logger: noopLogger });
  let ports: ListeningPorts;
  try {
    ports = await server.start();
  } catch (err) {
    await pool.close();
    throw err;
  }
  const client = new EnvoyExtProcClient(`127.0.0.1:${ports.grpc}`);
  let closing: Promise<void> | undefined;
  return {
    pool,
    server,
    ports,
    client,
    ids: pool.servers.map((s) => s.id),
    close: () =>
      (closing ??= (async () => {
        client.close();
        await server.shutdown(500);
        await pool.close();
      })()),
  };
}

/** The endpoint `id` in the server's current pool snapshot. */
export function endpointIn(server: FairwayServer, id: string): EndpointSnapshot | undefined {
  return server.monitor.pool.current().endpoints.find((e) => e.id === id);
}

/** Waits until a scrape of every listed endpoint satisfies `accept` (e.g. shows the fake metrics). */
export async function waitForScrape(
  server: FairwayServer,
  ids: readonly string[],
  accept: (e: EndpointSnapshot) => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  await waitFor(
    `a scrape of ${ids.join(', ')} matching the expectation`,
    () => ids.every((id) => {
      const e = endpointIn(server, id);
      return e !== undefined && e.metrics !== undefined && !e.stale && accept(e);
    }),
    timeoutMs,
  );
}

/** Waits until flow control holds nothing queued and nothing in flight, and the in-flight ledger is empty. */
export async function waitForIdle(server: FairwayServer, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    'flow control and the in-flight ledger to be empty',
    () => {
      const s = server.flowControl.stats();
      return s.queuedRequests === 0 && s.inflight === 0 && server.inflight.totalRequests() === 0;
    },
    timeoutMs,
  );
}

/** Queued requests in the band of `priority` (0 when the band does not exist). */
export function queuedInBand(server: FairwayServer, priority: number): number {
  return server.flowControl.stats().bands.find((b) => b.priority === priority)?.queuedRequests ?? 0;
}

export function completionBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: TEST_MODEL, prompt: 'Say hello to the integration test.', max_tokens: 8, ...extra });
}

/** Request headers for the ext_proc client: tenant, objective, content type. */
export function inferenceHeaders(tenant: string, objective?: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-gateway-inference-fairness-id': tenant,
    ...(objective === undefined ? {} : { 'x-gateway-inference-objective': objective }),
    ...extra,
  };
}

/** Sends request headers and body on a fresh stream and returns it without reading any answer. */
export function openRequest(client: EnvoyExtProcClient, headers: Record<string, string>, body: string): EnvoyStream {
  const stream = client.openStream();
  stream.sendRequestHeaders([[':method', 'POST'], [':path', '/v1/completions'], [':authority', 'gateway.local'], ...Object.entries(headers)], false);
  stream.sendRequestBody(body, true);
  return stream;
}

/** The stream's final gRPC status, failing after `timeoutMs` instead of hanging the test. */
export async function streamStatus(stream: EnvoyStream, timeoutMs = 15_000): Promise<StreamStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`ext_proc stream did not end within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([stream.status, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// --- Prometheus text ---

function parseLabels(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of raw.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out.set(m[1] ?? '', (m[2] ?? '').replace(/\\(.)/g, '$1'));
  return out;
}

/** Sum of the samples of `name` whose labels include every pair of `labels`; 0 when none matches. */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = parseLabels(m[3] ?? '');
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

// --- the response path, as Envoy drives it ---

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

export interface ForwardedResponse {
  readonly status: number;
  /** The chunks sent through the ext_proc stream, in order. */
  readonly sent: readonly Buffer[];
  /** The streamed response_body answers, in order. */
  readonly returned: readonly { readonly body: Buffer; readonly endOfStream: boolean }[];
  /** Set-headers of the response_headers answer. */
  readonly headerMutations: ReadonlyMap<string, string>;
}

/**
 * Forwards a model server's response through the ext_proc stream exactly as Envoy does in FULL_DUPLEX_STREAMED
 * mode: response headers (with `:status`), then each body chunk as it arrives from the server, each answered
 * before the next is sent, then an empty end_of_stream chunk.
 */
export async function forwardResponse(stream: EnvoyStream, upstream: Dispatcher.ResponseData): Promise<ForwardedResponse> {
  const headers: [string, string][] = [];
  for (const [k, v] of Object.entries(upstream.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    for (const one of Array.isArray(v) ? v : [v]) headers.push([k, one]);
  }
  stream.sendResponseHeaders(upstream.statusCode, headers, false);
  const headersAnswer = await stream.expectNext();
  const sent: Buffer[] = [];
  const returned: { body: Buffer; endOfStream: boolean }[] = [];
  const take = async (): Promise<void> => {
    const answer = await stream.expectNext();
    const streamed = streamedBodyOf(answer, 'response_body');
    if (streamed === undefined) throw new Error(`expected a response_body answer, got ${JSON.stringify(answer)}`);
    returned.push(streamed);
  };
  for await (const chunk of upstream.body) {
    const buf = Buffer.from(chunk as Uint8Array);
    sent.push(buf);
    stream.sendResponseBody(buf, false);
    await take();
  }
  stream.sendResponseBody(Buffer.alloc(0), true);
  await take();
  return { status: upstream.statusCode, sent, returned, headerMutations: setHeadersOf(headersAnswer, 'response_headers') };
}
