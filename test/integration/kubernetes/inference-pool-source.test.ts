// The Kubernetes EndpointSource against the in-process API server: pods going ready / unready / terminating /
// deleted change the endpoint list as they happen; selector and port changes apply live; v1alpha2 pools; a 410 in
// the middle of a watch relists without dropping or doubling endpoints; the API server going away keeps the last
// pool and a change made meanwhile is picked up when it returns; RBAC denials fail at start, naming the verb.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { noopLogger } from '../../../src/core/index.js';
import { type EndpointSpec } from '../../../src/datalayer/index.js';
import {
  InferencePoolEndpointSource,
  KubernetesPermissionError,
  POOL_GROUP_V1,
  POOL_GROUP_V1ALPHA2,
  makeKubeClients,
} from '../../../src/kubernetes/index.js';
import { FakeKubeApi, PODS, POOLS_V1, POOLS_V1ALPHA2 } from '../../support/fake-kube-api.js';
import { inferencePoolV1, inferencePoolV1alpha2, pod } from '../../support/kube-objects.js';
import { waitFor } from '../../support/service-harness.js';

const NS = 'models';
const FAST = { backoffInitialMs: 20, backoffMaxMs: 200, watchTimeoutSeconds: 30 };

function ids(endpoints: readonly EndpointSpec[]): string[] {
  return endpoints.map((e) => `${e.host}:${e.port}`).sort();
}

describe('InferencePoolEndpointSource', () => {
  let api: FakeKubeApi;
  let source: InferencePoolEndpointSource | undefined;
  let latest: readonly EndpointSpec[] = [];
  let publishes = 0;

  async function startSource(group = POOL_GROUP_V1): Promise<InferencePoolEndpointSource> {
    const s = new InferencePoolEndpointSource({
      clients: makeKubeClients(api.kubeConfig()),
      pool: { name: 'llama', namespace: NS, group },
      logger: noopLogger,
      ...FAST,
    });
    source = s;
    s.subscribe((e) => {
      latest = e;
      publishes++;
    });
    await s.start();
    return s;
  }

  /**
   * Routing-visible changes land in milliseconds (bench/kubernetes measures the latency); the deadline only bounds
   * a failing test: a 1 s deadline is a timing assertion a loaded 2-core machine can miss.
   */
  const promptly = (what: string, cond: () => boolean): Promise<void> => waitFor(what, cond, 10_000, 5);

  beforeEach(async () => {
    api = new FakeKubeApi();
    await api.start();
    latest = [];
    publishes = 0;
  });

  afterEach(async () => {
    await source?.close();
    source = undefined;
    await api.stop();
  });

  it('publishes Ready pods x target ports with their labels and engine, and ignores pods outside the selector', async () => {
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000, 8001]));
    api.apply(PODS, NS, pod('a', { ip: '10.0.0.1', labels: { app: 'llama', 'fairway.io/engine': 'sglang', zone: 'z1' } }));
    api.apply(PODS, NS, pod('b', { ip: '10.0.0.2', labels: { app: 'llama' } }));
    api.apply(PODS, NS, pod('other', { ip: '10.0.0.9', labels: { app: 'other' } }));
    api.apply(PODS, NS, pod('no-ip', { labels: { app: 'llama' } }));
    const s = await startSource();
    await promptly('initial endpoints', () => latest.length === 4);
    expect(ids(latest)).toEqual(['10.0.0.1:8000', '10.0.0.1:8001', '10.0.0.2:8000', '10.0.0.2:8001']);
    const a = latest.find((e) => e.host === '10.0.0.1');
    expect(a?.engine).toBe('sglang');
    expect(a?.labels).toMatchObject({ app: 'llama', zone: 'z1' });
    expect(latest.find((e) => e.host === '10.0.0.2')?.engine).toBeUndefined();
    expect(s.poolSynced).toBe(true);
  });

  it('follows pods going unready, ready, terminating, deleted and new pods appearing, each as it happens', async () => {
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000]));
    api.apply(PODS, NS, pod('a', { ip: '10.0.0.1', labels: { app: 'llama' } }));
    api.apply(PODS, NS, pod('b', { ip: '10.0.0.2', labels: { app: 'llama' } }));
    await startSource();
    await promptly('two endpoints', () => latest.length === 2);

    api.apply(PODS, NS, pod('a', { ip: '10.0.0.1', labels: { app: 'llama' }, ready: false }));
    await promptly('a unready leaves', () => ids(latest).join() === '10.0.0.2:8000');
    api.apply(PODS, NS, pod('a', { ip: '10.0.0.1', labels: { app: 'llama' } }));
    await promptly('a ready again', () => latest.length === 2);
    api.apply(PODS, NS, pod('b', { ip: '10.0.0.2', labels: { app: 'llama' }, terminating: true }));
    await promptly('b terminating leaves', () => ids(latest).join() === '10.0.0.1:8000');
    api.remove(PODS, NS, 'b');
    api.apply(PODS, NS, pod('c', { ip: '10.0.0.3', labels: { app: 'llama' } }));
    await promptly('c joins', () => ids(latest).join() === '10.0.0.1:8000,10.0.0.3:8000');
    api.remove(PODS, NS, 'a');
    await promptly('a deleted', () => ids(latest).join() === '10.0.0.3:8000');
  });

  it('publishes nothing for pod updates that do not change its endpoints', async () => {
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000]));
    api.apply(PODS, NS, pod('a', { ip: '10.0.0.1', labels: { app: 'llama' } }));
    await startSource();
    await promptly('one endpoint', () => latest.length === 1);
    const before = publishes;
    for (let i = 0; i < 5; i++) api.apply(PODS, NS, { ...pod('a', { ip: '10.0.0.1', labels: { app: 'llama' } }), spec: { restart: i } });
    api.apply(PODS, NS, pod('marker', { ip: '10.0.0.5', labels: { app: 'llama' } }));
    await promptly('marker seen', () => latest.length === 2);
    expect(publishes - before).toBe(1);
  });

  it('applies selector and target-port changes of the InferencePool live', async () => {
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000]));
    api.apply(PODS, NS, pod('a', { ip: '10.0.0.1', labels: { app: 'llama', track: 'stable' } }));
    api.apply(PODS, NS, pod('b', { ip: '10.0.0.2', labels: { app: 'llama', track: 'canary' } }));
    await startSource();
    await promptly('both pods', () => latest.length === 2);
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama', track: 'canary' }, [8000]));
    await promptly('selector narrowed to b', () => ids(latest).join() === '10.0.0.2:8000');
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama', track: 'canary' }, [9000, 9001]));
    await promptly('ports changed', () => ids(latest).join() === '10.0.0.2:9000,10.0.0.2:9001');
    api.remove(POOLS_V1, NS, 'llama');
    await promptly('pool deleted: no endpoints', () => latest.length === 0);
  });

  it('honours the active-ports annotation of a multi-port pod', async () => {
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000, 8001, 8002]));
    api.apply(PODS, NS, pod('a', { ip: '10.0.0.1', labels: { app: 'llama' }, annotations: { 'inference.networking.k8s.io/active-ports': '8001, 8002,9999' } }));
    await startSource();
    await promptly('two active ports', () => ids(latest).join() === '10.0.0.1:8001,10.0.0.1:8002');
  });

  it('follows a v1alpha2 InferencePool (plain selector map, targetPortNumber)', async () => {
    api.apply(POOLS_V1ALPHA2, NS, inferencePoolV1alpha2('llama', { app: 'llama' }, 8000));
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'nothing' }, [7000])); // another group: ignored
    api.apply(PODS, NS, pod('a', { ip: '10.0.0.1', labels: { app: 'llama' } }));
    await startSource(POOL_GROUP_V1ALPHA2);
    await promptly('v1alpha2 endpoints', () => ids(latest).join() === '10.0.0.1:8000');
  });

  it('relists after a 410 in the middle of a watch, without dropping or doubling endpoints', async () => {
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000]));
    for (let i = 1; i <= 5; i++) api.apply(PODS, NS, pod(`p${i}`, { ip: `10.0.0.${i}`, labels: { app: 'llama' } }));
    await startSource();
    await promptly('five endpoints', () => latest.length === 5);
    const seen: number[] = [];
    source?.subscribe((e) => seen.push(e.length));
    // The watch falls behind (changes it never delivers), then the server expires it with a 410 mid-stream.
    api.holdWatchEvents = true;
    api.remove(PODS, NS, 'p5');
    api.apply(PODS, NS, pod('p6', { ip: '10.0.0.6', labels: { app: 'llama' } }));
    api.apply(PODS, NS, pod('p1', { ip: '10.0.0.1', labels: { app: 'llama', touched: 'yes' } }));
    const listsBefore = api.calls.filter((c) => c.verb === 'list' && c.resource === 'pods').length;
    expect(ids(latest)).toHaveLength(5);
    api.expireWatches();
    await promptly('relisted state', () => ids(latest).join() === ['10.0.0.1:8000', '10.0.0.2:8000', '10.0.0.3:8000', '10.0.0.4:8000', '10.0.0.6:8000'].join());
    await waitFor('a relist', () => api.calls.filter((c) => c.verb === 'list' && c.resource === 'pods').length > listsBefore, 2_000);
    // Every published list was a set (no endpoint twice) and never lost the untouched pods.
    for (const n of seen) expect(n).toBeGreaterThanOrEqual(4);
    expect(new Set(ids(latest)).size).toBe(latest.length);
    expect(latest.find((e) => e.host === '10.0.0.1')?.labels).toMatchObject({ touched: 'yes' });
  });

  it('keeps the last pool while the API server is away, reports it, and catches up when it returns', async () => {
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000]));
    api.apply(PODS, NS, pod('a', { ip: '10.0.0.1', labels: { app: 'llama' } }));
    api.apply(PODS, NS, pod('b', { ip: '10.0.0.2', labels: { app: 'llama' } }));
    const reach: boolean[] = [];
    const s = new InferencePoolEndpointSource({
      clients: makeKubeClients(api.kubeConfig()),
      pool: { name: 'llama', namespace: NS, group: POOL_GROUP_V1 },
      ...FAST,
      onReachable: (r) => reach.push(r),
    });
    source = s;
    s.subscribe((e) => (latest = e));
    await s.start();
    await promptly('two endpoints', () => latest.length === 2);
    await api.stop();
    await waitFor('unreachable reported', () => !s.apiReachable, 3_000);
    expect(ids(latest)).toEqual(['10.0.0.1:8000', '10.0.0.2:8000']);
    // Changed while away; picked up on return.
    api.remove(PODS, NS, 'a');
    api.apply(PODS, NS, pod('c', { ip: '10.0.0.3', labels: { app: 'llama' } }));
    await api.start();
    await waitFor('caught up after return', () => ids(latest).join() === '10.0.0.2:8000,10.0.0.3:8000', 5_000);
    await waitFor('reachable again', () => s.apiReachable, 3_000);
    expect(reach).toEqual([false, true]);
  });

  it('fails at start when RBAC denies listing pods, naming the verb and the resource', async () => {
    api.rules = [{ apiGroups: ['inference.networking.k8s.io'], resources: ['inferencepools'], verbs: ['get', 'list', 'watch'] }];
    api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000]));
    const err = await startSource().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KubernetesPermissionError);
    expect((err as Error).message).toMatch(/not allowed to list pods in namespace "models"/);
  });

  it('fails at start when RBAC allows list but not watch, naming watch', async () => {
    api.rules = [
      { apiGroups: ['inference.networking.k8s.io'], resources: ['inferencepools'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
    ];
    const err = await startSource().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/not allowed to watch pods/);
  });
});
