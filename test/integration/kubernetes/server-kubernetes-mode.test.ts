// FairwayServer as an InferencePool's endpoint picker, end to end: the in-process API server holds the pool,
// pods and objectives; simulated model servers stand behind the pods; an Envoy-like client sends requests.
// Routing follows pods becoming unready and ready as it happens; readiness waits for the pool; InferenceObjectives
// take precedence over the config file's objectives; with leader election only the leader is ready and routes,
// the standby answers 503 not-leader, and a stopped leader hands over; an RBAC denial fails the start.
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { type Logger, noopLogger } from '../../../src/core/index.js';
import { makeKubeClients } from '../../../src/kubernetes/index.js';
import { FairwayServer } from '../../../src/server/index.js';
import { type SimulatedPool, startSimulatedPool } from '../../../src/simulator/index.js';
import { EnvoyExtProcClient, HealthClientLike, healthCheck } from '../../support/health-client.js';
import { FakeKubeApi, OBJECTIVES, PODS, POOLS_V1 } from '../../support/fake-kube-api.js';
import { inferenceObjective, inferencePoolV1, pod } from '../../support/kube-objects.js';
import { TEST_MODEL, completionBody, inferenceHeaders, waitFor } from '../../support/service-harness.js';

const NS = 'models';
const ACTIVE = 'inference.networking.k8s.io/active-ports';

let sims: SimulatedPool;
let portA: number;
let portB: number;

beforeAll(async () => {
  sims = await startSimulatedPool({ replicas: 2, profile: 'ci', model: TEST_MODEL, host: '127.0.0.1' });
  [portA, portB] = sims.servers.map((s) => s.port) as [number, number];
});

afterAll(async () => {
  await sims?.close();
});

interface Running {
  server: FairwayServer;
  client: EnvoyExtProcClient;
  health: HealthClientLike;
  metricsUrl: string;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startFairway(api: FakeKubeApi, extra: Record<string, unknown> = {}, identity?: string, logger: Logger = noopLogger): Promise<Running> {
  const config = validateConfig({
    kubernetes: { poolName: 'llama', poolNamespace: NS, ...extra },
    objectives: { chat: 1, batch: -1 },
    pool: { metrics: { intervalMs: 50, stalenessMs: 2_000 } },
    saturation: { detector: 'hybrid', options: { stalenessMs: 2_000 } },
    server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0, shutdownGraceMs: 1_000 },
    logging: { level: 'silent' },
  });
  const server = await FairwayServer.create(config, {
    logger,
    kubeClients: makeKubeClients(api.kubeConfig()),
    watchTuning: { backoffInitialMs: 20, backoffMaxMs: 200 },
    leaderIdentity: identity,
  });
  const ports = await server.start();
  const client = new EnvoyExtProcClient(`127.0.0.1:${ports.grpc}`);
  const health = new HealthClientLike(`127.0.0.1:${ports.health}`);
  const running = { server, client, health, metricsUrl: `http://127.0.0.1:${ports.metrics}` };
  cleanups.push(async () => {
    client.close();
    health.close();
    await server.shutdown(200);
  });
  return running;
}

async function destination(r: Running): Promise<string | number> {
  const ex = await r.client.sendRequest({ headers: inferenceHeaders('t1', 'chat'), bodyChunks: [completionBody()] });
  if (ex.immediate !== undefined) {
    ex.stream.end();
    return ex.immediate.status;
  }
  ex.stream.end();
  return ex.setHeaders.get('x-gateway-destination-endpoint') ?? 'none';
}

async function readyz(r: Running): Promise<number> {
  return (await fetch(`${r.metricsUrl}/readyz`)).status;
}

function seedPool(api: FakeKubeApi): void {
  api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [portA, portB]));
  api.apply(PODS, NS, pod('a', { ip: '127.0.0.1', labels: { app: 'llama' }, annotations: { [ACTIVE]: String(portA) } }));
  api.apply(PODS, NS, pod('b', { ip: '127.0.0.1', labels: { app: 'llama' }, annotations: { [ACTIVE]: String(portB) } }));
}

describe('FairwayServer in Kubernetes mode', () => {
  it('routes to Ready pods only, and follows a pod turning unready and ready again', async () => {
    const api = new FakeKubeApi();
    await api.start();
    cleanups.push(() => api.stop());
    seedPool(api);
    const r = await startFairway(api);
    const a = `127.0.0.1:${portA}`;
    const b = `127.0.0.1:${portB}`;
    await waitFor('both endpoints in the pool', () => r.server.monitor.pool.current().endpoints.length === 2);
    expect(await readyz(r)).toBe(200);

    api.apply(PODS, NS, pod('a', { ip: '127.0.0.1', labels: { app: 'llama' }, annotations: { [ACTIVE]: String(portA) }, ready: false }));
    await waitFor('a leaves the pool', () => r.server.monitor.pool.current().endpoints.every((e) => e.id !== a), 10_000, 5); // a bound on a failing test; latency: bench/kubernetes
    for (let i = 0; i < 5; i++) expect(await destination(r)).toBe(b);

    api.apply(PODS, NS, pod('a', { ip: '127.0.0.1', labels: { app: 'llama' }, annotations: { [ACTIVE]: String(portA) } }));
    api.remove(PODS, NS, 'b');
    await waitFor('a back, b gone', () => r.server.monitor.pool.current().endpoints.map((e) => e.id).join() === a, 10_000, 5); // a bound on a failing test; latency: bench/kubernetes
    for (let i = 0; i < 5; i++) expect(await destination(r)).toBe(a);
  });

  it('is not ready until the InferencePool exists, then serves it', async () => {
    const api = new FakeKubeApi();
    await api.start();
    cleanups.push(() => api.stop());
    const r = await startFairway(api);
    expect(await readyz(r)).toBe(503);
    expect(await healthCheck(r.health, 'readiness')).toBe('NOT_SERVING');
    expect(await healthCheck(r.health, 'liveness')).toBe('SERVING');
    expect(await destination(r)).toBe(503); // no endpoints
    seedPool(api);
    await waitFor('ready once the pool is there', async () => (await readyz(r)) === 200, 3_000);
    expect(await healthCheck(r.health, 'readiness')).toBe('SERVING');
  });

  it('takes objective priorities from InferenceObjectives first, then the config file, live', async () => {
    const api = new FakeKubeApi();
    await api.start();
    cleanups.push(() => api.stop());
    seedPool(api);
    api.apply(OBJECTIVES, NS, inferenceObjective('chat', 'llama', 10));
    const r = await startFairway(api);
    expect(r.server.objectives.get('chat')).toBe(10); // the cluster's wins over the file's 1
    expect(r.server.objectives.get('batch')).toBe(-1); // only in the file
    api.apply(OBJECTIVES, NS, inferenceObjective('chat', 'llama', 7));
    await waitFor('priority change applies', () => r.server.objectives.get('chat') === 7, 10_000, 5); // a bound on a failing test; latency: bench/kubernetes
    api.remove(OBJECTIVES, NS, 'chat');
    await waitFor('deleted: back to the file', () => r.server.objectives.get('chat') === 1, 10_000, 5); // a bound on a failing test; latency: bench/kubernetes
  });

  it('with leader election: only the leader is ready and routes; the standby answers 503 not-leader; a stopped leader hands over', async () => {
    const api = new FakeKubeApi();
    await api.start();
    cleanups.push(() => api.stop());
    seedPool(api);
    const le = { leaderElection: { enabled: true, leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 100 } };
    const first = await startFairway(api, le, 'first');
    await waitFor('first leads', async () => (await readyz(first)) === 200, 5_000);
    const second = await startFairway(api, le, 'second');
    await waitFor('second has the pool', () => second.server.monitor.pool.current().endpoints.length === 2, 3_000);
    expect(await readyz(second)).toBe(503);
    expect(await healthCheck(second.health, 'readiness')).toBe('NOT_SERVING');
    expect(await healthCheck(second.health, 'envoy.service.ext_proc.v3.ExternalProcessor')).toBe('NOT_SERVING');
    expect(await healthCheck(second.health, 'liveness')).toBe('SERVING');
    expect(await destination(second)).toBe(503);
    expect(typeof (await destination(first))).toBe('string');

    await first.server.shutdown(200);
    await waitFor('second takes over', async () => (await readyz(second)) === 200, 5_000);
    expect(await healthCheck(second.health, 'readiness')).toBe('SERVING');
    expect(typeof (await destination(second))).toBe('string');
    const metrics = await (await fetch(`${second.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^fairway_leader 1$/m);
    expect(metrics).toMatch(/^fairway_kubernetes_api_reachable 1$/m);
  });

  it('logs the API server going away once, and once when every watch is back, not once per watch', async () => {
    const api = new FakeKubeApi();
    await api.start();
    cleanups.push(() => api.stop());
    seedPool(api);
    const lines: { level: string; msg: string }[] = [];
    const record = (level: string) => (_obj: object, msg?: string): void => void lines.push({ level, msg: msg ?? '' });
    const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error'), child: () => logger };
    const r = await startFairway(api, {}, undefined, logger);
    const gauge = async (): Promise<string | undefined> =>
      (await (await fetch(`${r.metricsUrl}/metrics`)).text()).split('\n').find((l) => l.startsWith('fairway_kubernetes_api_reachable'));
    await waitFor('serving the pool', async () => (await readyz(r)) === 200, 10_000);
    await api.stop();
    await waitFor('API server seen unreachable', async () => (await gauge())?.endsWith(' 0') === true, 10_000);
    // Give the other watches time to fail too (their streams were cut at the same moment).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await destination(r)).toMatch(/^127\.0\.0\.1:/);
    await api.start();
    await waitFor('API server reachable again', async () => (await gauge())?.endsWith(' 1') === true, 10_000);
    const about = (text: string): string[] => lines.filter((l) => l.msg.startsWith(text)).map((l) => l.level);
    expect(about('Kubernetes API server unreachable')).toEqual(['warn']);
    expect(about('Kubernetes API server reachable again')).toEqual(['info']);
  });

  it('fails to start when RBAC denies a watch it needs, naming the verb and resource', async () => {
    const api = new FakeKubeApi({
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['inference.networking.x-k8s.io'], resources: ['inferenceobjectives', 'inferencemodelrewrites'], verbs: ['get', 'list', 'watch'] },
      ],
    });
    await api.start();
    cleanups.push(() => api.stop());
    seedPool(api);
    const config = validateConfig({
      kubernetes: { poolName: 'llama', poolNamespace: NS },
      server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0 },
    });
    const server = await FairwayServer.create(config, { logger: noopLogger, kubeClients: makeKubeClients(api.kubeConfig()) });
    await expect(server.start()).rejects.toThrow(/not allowed to list inferencepools\.inference\.networking\.k8s\.io in namespace "models"/);
  });
});
