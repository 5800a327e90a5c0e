// InferenceObjective priorities and the Lease store against the in-process API server: objectives bound to our
// pool (and only those) map to priorities, changes apply at once, a deleted one is forgotten, a missing CRD is not
// fatal; the Lease is created once, updated with optimistic concurrency, and a stale update gets 409.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InferenceObjectiveSource,
  KubernetesLeaseStore,
  LeaderElector,
  LeaseConflictError,
  POOL_GROUP_V1,
  makeKubeClients,
} from '../../../src/kubernetes/index.js';
import { FakeKubeApi, LEASES, OBJECTIVES } from '../../support/fake-kube-api.js';
import { inferenceObjective } from '../../support/kube-objects.js';
import { waitFor } from '../../support/service-harness.js';

const NS = 'models';

describe('InferenceObjectiveSource', () => {
  let api: FakeKubeApi;
  let source: InferenceObjectiveSource | undefined;

  beforeEach(async () => {
    api = new FakeKubeApi();
    await api.start();
  });

  afterEach(async () => {
    await source?.close();
    source = undefined;
    await api.stop();
  });

  function make(onChange?: () => void): InferenceObjectiveSource {
    source = new InferenceObjectiveSource({
      clients: makeKubeClients(api.kubeConfig()),
      pool: { name: 'llama', namespace: NS, group: POOL_GROUP_V1 },
      backoffInitialMs: 20,
      onChange,
    });
    return source;
  }

  it('maps objectives of our pool to priorities, follows changes and deletions, ignores other pools', async () => {
    api.apply(OBJECTIVES, NS, inferenceObjective('chat', 'llama', 10));
    api.apply(OBJECTIVES, NS, inferenceObjective('batch', 'llama', -1));
    api.apply(OBJECTIVES, NS, inferenceObjective('default-prio', 'llama'));
    api.apply(OBJECTIVES, NS, inferenceObjective('elsewhere', 'other-pool', 99));
    api.apply(OBJECTIVES, NS, inferenceObjective('wrong-group', 'llama', 50, 'inference.networking.x-k8s.io'));
    let changes = 0;
    const s = make(() => changes++);
    await s.start();
    expect(s.watching).toBe(true);
    expect(s.get('chat')).toBe(10);
    expect(s.get('batch')).toBe(-1);
    expect(s.get('default-prio')).toBe(0);
    expect(s.get('elsewhere')).toBeUndefined();
    expect(s.get('wrong-group')).toBeUndefined();
    const before = changes;
    api.apply(OBJECTIVES, NS, inferenceObjective('chat', 'llama', 20));
    await waitFor('priority change', () => s.get('chat') === 20, 10_000, 5); // a bound on a failing test; latency: bench/kubernetes
    api.apply(OBJECTIVES, NS, inferenceObjective('batch', 'other-pool', -1));
    await waitFor('moved to another pool', () => s.get('batch') === undefined, 10_000, 5); // a bound on a failing test; latency: bench/kubernetes
    api.remove(OBJECTIVES, NS, 'chat');
    await waitFor('deleted', () => s.get('chat') === undefined, 10_000, 5); // a bound on a failing test; latency: bench/kubernetes
    expect(changes - before).toBe(3);
  });

  it('runs without objectives when the cluster does not serve the CRD (404)', async () => {
    api.unserved.add('inferenceobjectives.inference.networking.x-k8s.io');
    const s = make();
    await s.start();
    expect(s.watching).toBe(false);
    expect(s.get('chat')).toBeUndefined();
  });

  it('fails at start when RBAC denies the objectives, naming verb and resource', async () => {
    api.rules = [];
    const err = await make().start().then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).toMatch(/not allowed to list inferenceobjectives\.inference\.networking\.x-k8s\.io in namespace "models"/);
  });
});

describe('KubernetesLeaseStore', () => {
  let api: FakeKubeApi;

  beforeEach(async () => {
    api = new FakeKubeApi();
    await api.start();
  });

  afterEach(async () => {
    await api.stop();
  });

  it('creates once, updates with the current resourceVersion, and gets 409 for a stale one', async () => {
    const store = new KubernetesLeaseStore(makeKubeClients(api.kubeConfig()), NS, 'fairway-llama');
    expect(await store.get()).toBeUndefined();
    const record = { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: new Date().toISOString(), renewTime: new Date().toISOString(), leaseTransitions: 0 };
    const created = await store.create(record);
    await expect(store.create(record)).rejects.toBeInstanceOf(LeaseConflictError);
    const updated = await store.update({ ...record, holderIdentity: 'b', leaseTransitions: 1 }, created.resourceVersion);
    expect(updated.record.holderIdentity).toBe('b');
    await expect(store.update({ ...record, holderIdentity: 'c' }, created.resourceVersion)).rejects.toBeInstanceOf(LeaseConflictError);
    const stored = api.get(LEASES, NS, 'fairway-llama');
    expect(stored?.spec).toMatchObject({ holderIdentity: 'b', leaseDurationSeconds: 15, leaseTransitions: 1 });
    // MicroTime: six fractional digits, as the API server parses them.
    expect(String((stored?.spec as Record<string, unknown>).renewTime)).toMatch(/\.\d{6}Z$/);
  });

  it('two electors on the real wire protocol: one leads, the other takes over when it stops', async () => {
    const clients = makeKubeClients(api.kubeConfig());
    const timings = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 100 };
    const a = new LeaderElector({ store: new KubernetesLeaseStore(clients, NS, 'l'), identity: 'a', ...timings });
    a.start();
    await waitFor('a leads', () => a.isLeader(), 5_000);
    const b = new LeaderElector({ store: new KubernetesLeaseStore(clients, NS, 'l'), identity: 'b', ...timings });
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.isLeader()).toBe(false);
    await a.stop(true);
    await waitFor('b takes over', () => b.isLeader(), 5_000);
    expect(api.get(LEASES, NS, 'l')?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    await b.stop(true);
  });
});
