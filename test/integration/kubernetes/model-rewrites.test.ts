// InferenceModelRewrite objects in Kubernetes mode, end to end: the in-process API server holds the pool, its pods
// and the rewrites; simulated servers behind the pods serve llama and qwen; an Envoy-like client sends requests.
// The cluster's rewrites join the config file's `modelRewrites` in one rule set with the documented precedence
// (exact beats catch-all from either place; then the cluster beats the file; then the older object), follow
// watch events live, split by weight exactly, ignore other pools' objects, and survive a config reload.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { noopLogger } from '../../../src/core/index.js';
import { makeKubeClients } from '../../../src/kubernetes/index.js';
import { FairwayServer } from '../../../src/server/index.js';
import { type SimulatedPool, startSimulatedPool } from '../../../src/simulator/index.js';
import { EnvoyExtProcClient } from '../../support/health-client.js';
import { FakeKubeApi, MODEL_REWRITES, PODS, POOLS_V1 } from '../../support/fake-kube-api.js';
import { inferenceModelRewrite, inferencePoolV1, pod } from '../../support/kube-objects.js';
import { inferenceHeaders, waitFor } from '../../support/service-harness.js';

const NS = 'models';
const ACTIVE = 'inference.networking.k8s.io/active-ports';
const FILE_REWRITES = [
  { name: 'file-chat', rules: [{ matches: [{ model: { value: 'chat' } }], targets: [{ modelRewrite: 'llama' }] }] },
  { name: 'file-code', rules: [{ matches: [{ model: { value: 'code' } }], targets: [{ modelRewrite: 'llama' }] }] },
  { name: 'file-default', rules: [{ targets: [{ modelRewrite: 'llama' }] }] },
];

let sims: SimulatedPool;
let api: FakeKubeApi;
let server: FairwayServer;
let client: EnvoyExtProcClient;
let llamaId: string;
let qwenId: string;

beforeAll(async () => {
  sims = await startSimulatedPool({ replicas: 2, profile: 'ci', models: [{ model: 'llama' }, { model: 'qwen' }], host: '127.0.0.1' });
  const [llama, qwen] = sims.servers;
  if (llama === undefined || qwen === undefined) throw new Error('two simulated servers expected');
  llamaId = llama.id;
  qwenId = qwen.id;
  api = new FakeKubeApi();
  await api.start();
  api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [llama.port, qwen.port]));
  api.apply(PODS, NS, pod('a', { ip: '127.0.0.1', labels: { app: 'llama' }, annotations: { [ACTIVE]: String(llama.port) } }));
  api.apply(PODS, NS, pod('b', { ip: '127.0.0.1', labels: { app: 'llama' }, annotations: { [ACTIVE]: String(qwen.port) } }));
  server = await FairwayServer.create(config(FILE_REWRITES), {
    logger: noopLogger,
    kubeClients: makeKubeClients(api.kubeConfig()),
    watchTuning: { backoffInitialMs: 20, backoffMaxMs: 200 },
  });
  const ports = await server.start();
  client = new EnvoyExtProcClient(`127.0.0.1:${ports.grpc}`);
  await waitFor('both pods listed with their models', () => [llamaId, qwenId].every((id) => server.models?.of(id) !== undefined), 5_000);
});

afterAll(async () => {
  client?.close();
  await server?.shutdown(200);
  await api?.stop();
  await sims?.close();
});

afterEach(() => {
  for (const name of ['cluster-chat', 'cluster-default', 'canary', 'z-old', 'a-new', 'other-pool']) {
    if (api.get(MODEL_REWRITES, NS, name) !== undefined) api.remove(MODEL_REWRITES, NS, name);
  }
});

function config(modelRewrites: unknown) {
  return validateConfig({
    kubernetes: { poolName: 'llama', poolNamespace: NS },
    modelRewrites,
    pool: { metrics: { intervalMs: 50, stalenessMs: 2_000 }, models: { intervalMs: 200 } },
    saturation: { detector: 'hybrid', options: { stalenessMs: 2_000 } },
    server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0, shutdownGraceMs: 1_000 },
    logging: { level: 'silent' },
  });
}

/** The model the request was forwarded as, and where. */
async function send(model: string): Promise<{ model: string; endpoint: string }> {
  const ex = await client.sendRequest({
    headers: inferenceHeaders('rw-tenant'),
    bodyChunks: [JSON.stringify({ model, prompt: 'rewrite probe', max_tokens: 2 })],
  });
  ex.stream.end();
  if (ex.immediate !== undefined) throw new Error(`rejected ${ex.immediate.status}: ${ex.immediate.body}`);
  return { model: (JSON.parse(ex.body.toString('utf8')) as { model: string }).model, endpoint: ex.setHeaders.get('x-gateway-destination-endpoint') ?? '' };
}

async function until(what: string, model: string, target: string): Promise<void> {
  await waitFor(what, async () => (await send(model)).model === target, 2_000, 20);
}

describe('InferenceModelRewrite in Kubernetes mode', () => {
  it('the config file rules apply while the pool has no rewrite objects', async () => {
    expect(await send('chat')).toEqual({ model: 'llama', endpoint: llamaId });
    expect(await send('anything')).toEqual({ model: 'llama', endpoint: llamaId });
  });

  it('an object beats a config entry of the same kind, live, and its deletion falls back to the file', async () => {
    api.apply(MODEL_REWRITES, NS, inferenceModelRewrite('cluster-chat', 'llama', [{ matches: ['chat'], targets: [{ model: 'qwen' }] }]));
    await until('the object rewrites chat', 'chat', 'qwen');
    expect(await send('chat')).toEqual({ model: 'qwen', endpoint: qwenId });
    api.apply(MODEL_REWRITES, NS, inferenceModelRewrite('cluster-default', 'llama', [{ matches: [], targets: [{ model: 'qwen' }] }]));
    await until("the object's catch-all", 'anything', 'qwen');
    // A config entry naming the model exactly still beats the cluster's catch-all.
    expect((await send('code')).model).toBe('llama');
    api.remove(MODEL_REWRITES, NS, 'cluster-chat');
    await until('deleted: the file rule again', 'chat', 'llama');
  });

  it('between two objects matching the same model, the older wins whatever the names', async () => {
    api.apply(MODEL_REWRITES, NS, inferenceModelRewrite('z-old', 'llama', [{ matches: ['chat'], targets: [{ model: 'qwen' }] }]));
    await until('the old object', 'chat', 'qwen');
    await new Promise((resolve) => setTimeout(resolve, 20)); // a later creation time
    api.apply(MODEL_REWRITES, NS, inferenceModelRewrite('a-new', 'llama', [{ matches: ['chat'], targets: [{ model: 'llama' }] }]));
    await waitFor('the new object seen', () => server.rewriteRules.sets().some((s) => s.name === 'a-new'), 2_000);
    for (let i = 0; i < 4; i++) expect((await send('chat')).model).toBe('qwen');
  });

  it('splits by weight exactly and ignores objects of other pools', async () => {
    api.apply(MODEL_REWRITES, NS, inferenceModelRewrite('other-pool', 'mistral', [{ matches: ['canary'], targets: [{ model: 'qwen' }] }]));
    api.apply(
      MODEL_REWRITES,
      NS,
      inferenceModelRewrite('canary', 'llama', [{ matches: ['canary'], targets: [{ model: 'llama', weight: 3 }, { model: 'qwen', weight: 1 }] }]),
    );
    await waitFor('the canary object seen', () => server.rewriteRules.sets().some((s) => s.name === 'canary'), 2_000);
    expect(server.rewriteRules.sets().some((s) => s.name === 'other-pool')).toBe(false);
    const served: string[] = [];
    for (let i = 0; i < 8; i++) served.push((await send('canary')).model);
    expect(served.filter((m) => m === 'llama')).toHaveLength(6);
    expect(served.filter((m) => m === 'qwen')).toHaveLength(2);
  });

  it('a config reload replaces the file rules and keeps the cluster objects', async () => {
    api.apply(MODEL_REWRITES, NS, inferenceModelRewrite('cluster-chat', 'llama', [{ matches: ['chat'], targets: [{ model: 'qwen' }] }]));
    await until('the object rewrites chat', 'chat', 'qwen');
    server.applyConfig(config([{ name: 'file-code', rules: [{ matches: [{ model: { value: 'code' } }], targets: [{ modelRewrite: 'qwen' }] }] }]));
    expect((await send('code')).model).toBe('qwen');
    expect((await send('chat')).model).toBe('qwen');
    expect(server.rewriteRules.sets().map((s) => s.name)).toEqual(['cluster-chat', 'file-code']);
    server.applyConfig(config(FILE_REWRITES));
  });
});

describe('a cluster without the InferenceModelRewrite CRD', () => {
  it('starts, and takes rewrites from the config file only', async () => {
    const bare = new FakeKubeApi();
    bare.unserved.add('inferencemodelrewrites.inference.networking.x-k8s.io');
    await bare.start();
    const [llama] = sims.servers;
    bare.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [llama?.port ?? 1]));
    const alone = await FairwayServer.create(config(FILE_REWRITES), { logger: noopLogger, kubeClients: makeKubeClients(bare.kubeConfig()) });
    try {
      await alone.start();
      expect(alone.kubernetes?.rewrites.watching).toBe(false);
      expect(alone.rewriteRules.sets().map((s) => s.name)).toEqual(['file-chat', 'file-code', 'file-default']);
    } finally {
      await alone.shutdown(100);
      await bare.stop();
    }
  });
});
