// A pod that dies between two scrapes still looks like the best pick until its next scrape fails. In proxy mode the
// request then fails to connect before anything was sent, so Fairway sends it to the next-best pod instead of
// answering 503, counts the retry, and moves the request's accounting to the pod that served it. When every other
// pod is full (no headroom), a full but live pod is still a fallback: it queues the request rather than a 503.
// The dead pod sits behind a Doorway whose door closes: new connections are refused while Fairway's keep-alive
// scrape connection keeps answering, so the dead pod stays fresh and best however slow the machine is.
import { Agent, request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { noopLogger } from '../../../src/core/index.js';
import { FairwayServer, type ListeningPorts } from '../../../src/server/index.js';
import { type FakeMetrics, type SimulatedPool, startSimulatedPool } from '../../../src/simulator/index.js';
import { Doorway } from '../../support/doorway.js';
import { TEST_MODEL, completionBody, endpointIn, metricValue, waitFor } from '../../support/service-harness.js';

const dispatcher = new Agent({ connections: 4 });

interface DeadPodSetup {
  readonly pool: SimulatedPool;
  readonly door: Doorway;
  readonly server: FairwayServer;
  readonly ports: ListeningPorts;
  /** The dead pod's id (the doorway's address), then the live pods' ids. */
  readonly deadId: string;
  readonly liveIds: readonly string[];
}

const running: DeadPodSetup[] = [];

/** Replica 0 behind a doorway (the pod that will die), the others direct; each with its fake metrics. */
async function start(fake: readonly FakeMetrics[]): Promise<DeadPodSetup> {
  const pool = await startSimulatedPool({ replicas: fake.length, profile: 'ci', model: TEST_MODEL, host: '127.0.0.1' });
  fake.forEach((f, i) => pool.simulators[i]?.setFakeMetrics(f));
  const [first, ...rest] = pool.servers;
  const door = await new Doorway(first!.host, first!.port).open();
  const server = new FairwayServer(
    validateConfig({
      pool: {
        endpoints: [{ host: door.host, port: door.port }, ...rest.map((s) => ({ host: s.host, port: s.port }))],
        metrics: { intervalMs: 50, stalenessMs: 2_000 },
        // The model poller's next connection would be refused too and mark the pod down: not what is tested here.
        models: { discover: false },
      },
      saturation: { detector: 'hybrid', options: { stalenessMs: 2_000 } },
      server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0, proxyPort: 0, shutdownGraceMs: 2_000 },
      logging: { level: 'silent' },
    }),
    { logger: noopLogger },
  );
  const ports = await server.start();
  const setup = { pool, door, server, ports, deadId: door.id, liveIds: rest.map((s) => s.id) };
  running.push(setup);
  const ids = [setup.deadId, ...setup.liveIds];
  await waitFor('every pod scraped with its fake metrics', () => ids.every((id, i) => endpointIn(server, id)?.metrics?.kvCacheUsage === fake[i]?.kvUsage));
  return setup;
}

async function complete(proxyPort: number): Promise<{ status: number; reason: string | undefined }> {
  const res = await request(`http://127.0.0.1:${proxyPort}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gateway-inference-fairness-id': 'dead-pod' },
    body: completionBody({ max_tokens: 2 }),
    dispatcher,
  });
  await res.body.text();
  const reason = res.headers['x-fairway-drop-reason'];
  return { status: res.statusCode, reason: typeof reason === 'string' ? reason : undefined };
}

afterEach(async () => {
  for (const s of running.splice(0)) {
    await s.server.shutdown(500);
    await s.door.close();
    await s.pool.close();
  }
});

afterAll(async () => {
  await dispatcher.close();
});

describe('proxy mode with a pod that just died', () => {
  it('retries on the next candidate instead of answering 503, and counts each retry', async () => {
    // Replica 0 looks idle and replica 1 busy (with headroom), so every request picks replica 0 first. Running
    // counts are pinned at 0: a scrape catching one real request running beside the 3 fake waiting ones reads as
    // a server with one batch slot (the hybrid detector's slot learner), which would leave replica 1 out.
    const s = await start([{ waiting: 0, running: 0, kvUsage: 0.1 }, { waiting: 3, running: 0, kvUsage: 0.1 }]);
    s.door.closeDoor();
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await complete(s.ports.proxy as number));
    // The dead pod still looks fresh (its scrapes come over the connection opened before it died) and best.
    expect(endpointIn(s.server, s.deadId)?.stale).toBe(false);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    const text = await s.server.registry.metrics();
    expect(metricValue(text, 'fairway_upstream_connect_failures_total', { outcome: 'retried' })).toBe(5);
    expect(metricValue(text, 'fairway_upstream_connect_failures_total', { outcome: 'exhausted' })).toBe(0);
    // Each was served by the fallback: its in-flight count and prefix record moved there, and it was counted.
    expect(metricValue(text, 'fairway_fallback_served_total')).toBe(5);
    expect(s.server.inflight.load(s.liveIds[0]!).requests + s.server.inflight.load(s.deadId).requests).toBe(0);
  });

  it('falls back on a full but live pod rather than answering 503 when every other pod is full', async () => {
    // Replica 0 (about to die) is the only one with headroom; replicas 1 and 2 are full (KV cache at 99%), so the
    // saturation filter leaves replica 0 alone as a candidate. They still serve: a full pod queues the request.
    const full = { waiting: 0, running: 0, kvUsage: 0.99 };
    const s = await start([{ waiting: 0, running: 0, kvUsage: 0.1 }, full, full]);
    s.door.closeDoor();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await complete(s.ports.proxy as number));
    expect(endpointIn(s.server, s.deadId)?.stale).toBe(false);
    expect(answers).toEqual(Array.from({ length: 4 }, () => ({ status: 200, reason: undefined })));
    const text = await s.server.registry.metrics();
    expect(metricValue(text, 'fairway_upstream_connect_failures_total', { outcome: 'retried' })).toBe(4);
    expect(metricValue(text, 'fairway_upstream_connect_failures_total', { outcome: 'exhausted' })).toBe(0);
    expect(metricValue(text, 'fairway_fallback_served_total')).toBe(4);
  });
});
