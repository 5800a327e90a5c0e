// The RBAC rules shipped in deploy/ grant every call Fairway makes: the whole Kubernetes mode runs against an
// API server that enforces exactly those rules (v1 and v1alpha2 pools, objectives, model rewrites, leader election with its
// release), with no 403; and removing any one rule makes Fairway fail at start with the verb and resource named.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../../../src/config/index.js';
import { noopLogger } from '../../../src/core/index.js';
import { makeKubeClients } from '../../../src/kubernetes/index.js';
import { FairwayServer } from '../../../src/server/index.js';
import { FakeKubeApi, MODEL_REWRITES, OBJECTIVES, PODS, POOLS_V1, POOLS_V1ALPHA2, type PolicyRule } from '../../support/fake-kube-api.js';
import { inferenceModelRewrite, inferenceObjective, inferencePoolV1, inferencePoolV1alpha2, pod } from '../../support/kube-objects.js';
import { waitFor } from '../../support/service-harness.js';

const RULES = parseYaml(readFileSync(new URL('../../../deploy/helm/fairway/files/rbac-rules.yaml', import.meta.url), 'utf8')) as PolicyRule[];
const NS = 'default';

async function runFairway(api: FakeKubeApi, group: string): Promise<void> {
  const config = validateConfig({
    kubernetes: { poolName: 'llama', poolNamespace: NS, poolGroup: group, leaderElection: { enabled: true, leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 100 } },
    server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0 },
    logging: { level: 'silent' },
  });
  const server = await FairwayServer.create(config, { logger: noopLogger, kubeClients: makeKubeClients(api.kubeConfig()), watchTuning: { backoffInitialMs: 20 } });
  await server.start();
  try {
    await waitFor('leading with the pool listed', () => server.isReady(), 5_000);
    // A renewal (update) besides the acquisition.
    const updates = (): number => api.calls.filter((c) => c.resource === 'leases' && c.verb === 'update').length;
    const before = updates();
    await waitFor('a renewal', () => updates() > before, 5_000);
  } finally {
    await server.shutdown(100); // releases the lease: one more update
  }
}

describe('RBAC in deploy/ covers every call the code makes', () => {
  it('runs v1 and v1alpha2 pools, objectives, model rewrites and leader election without a single 403', async () => {
    const api = new FakeKubeApi({ rules: RULES });
    await api.start();
    try {
      api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000]));
      api.apply(POOLS_V1ALPHA2, NS, inferencePoolV1alpha2('llama', { app: 'llama' }, 8000));
      api.apply(PODS, NS, pod('a', { ip: '127.0.0.1', labels: { app: 'llama' } }));
      api.apply(OBJECTIVES, NS, inferenceObjective('chat', 'llama', 5));
      api.apply(MODEL_REWRITES, NS, inferenceModelRewrite('canary', 'llama', [{ matches: ['chat'], targets: [{ model: 'chat-v2' }] }]));
      await runFairway(api, 'inference.networking.k8s.io');
      await runFairway(api, 'inference.networking.x-k8s.io');
      expect(api.calls.filter((c) => c.status === 403)).toEqual([]);
      const made = new Set(api.calls.map((c) => `${c.verb} ${c.resource}.${c.group}`));
      for (const call of [
        'list pods.', 'watch pods.',
        'list inferencepools.inference.networking.k8s.io', 'watch inferencepools.inference.networking.k8s.io',
        'list inferencepools.inference.networking.x-k8s.io', 'watch inferencepools.inference.networking.x-k8s.io',
        'list inferenceobjectives.inference.networking.x-k8s.io', 'watch inferenceobjectives.inference.networking.x-k8s.io',
        'list inferencemodelrewrites.inference.networking.x-k8s.io', 'watch inferencemodelrewrites.inference.networking.x-k8s.io',
        'get leases.coordination.k8s.io', 'create leases.coordination.k8s.io', 'update leases.coordination.k8s.io',
      ]) {
        expect(made, call).toContain(call);
      }
    } finally {
      await api.stop();
    }
  });

  /** Starts Fairway against an API server granting `rules`; the start must fail with `message`. */
  async function expectStartToFail(rules: readonly PolicyRule[], message: RegExp): Promise<void> {
    const api = new FakeKubeApi({ rules });
    await api.start();
    try {
      api.apply(POOLS_V1, NS, inferencePoolV1('llama', { app: 'llama' }, [8000]));
      const server = await FairwayServer.create(
        validateConfig({ kubernetes: { poolName: 'llama', poolNamespace: NS }, server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0 }, logging: { level: 'silent' } }),
        { logger: noopLogger, kubeClients: makeKubeClients(api.kubeConfig()) },
      );
      await expect(server.start()).rejects.toThrow(message);
    } finally {
      await api.stop();
    }
  }

  it('without the pods rule, the start fails naming list pods', async () => {
    await expectStartToFail(RULES.filter((r) => !r.resources.includes('pods')), /not allowed to list pods in namespace "default"/);
  });

  it('without inferencemodelrewrites, the start fails naming list inferencemodelrewrites', async () => {
    const rules = RULES.map((r) => ({ ...r, resources: r.resources.filter((res) => res !== 'inferencemodelrewrites') }));
    await expectStartToFail(rules, /not allowed to list inferencemodelrewrites\.inference\.networking\.x-k8s\.io in namespace "default"/);
  });
});
