// planReload: which fields apply live and which wait for a restart (kept at their running value, and named).
import { describe, expect, it } from 'vitest';
import { RESTART_ONLY_FIELDS, planReload, validateConfig } from '../../../src/config/index.js';

const base = validateConfig({
  objectives: { chat: 10 },
  tenants: { acme: { weight: 2 } },
  flowControl: { bands: [{ priority: 0, maxRequests: 100 }] },
  server: { grpcPort: 9002 },
});

describe('planReload', () => {
  it('reports nothing for an identical configuration', () => {
    const plan = planReload(base, validateConfig(structuredClone(base)));
    expect(plan.changed).toEqual([]);
    expect(plan.restartRequired).toEqual([]);
  });

  it('applies live fields and names them', () => {
    const next = validateConfig({
      objectives: { chat: 5, batch: -1 },
      tenants: { acme: { weight: 3 } },
      flowControl: { bands: [{ priority: 0, maxRequests: 50, ttlMs: 1_000 }] },
      saturation: { options: { kvThreshold: 0.7 } },
      server: { grpcPort: 9002 },
    });
    const plan = planReload(base, next);
    expect(plan.restartRequired).toEqual([]);
    expect(plan.changed).toEqual(expect.arrayContaining(['objectives', 'tenants', 'flowControl.bands', 'saturation.options']));
    expect(plan.effective).toBe(next);
  });

  it('keeps restart-only fields at their running value and names each one', () => {
    const next = validateConfig({
      objectives: { chat: 10 },
      tenants: { acme: { weight: 2 } },
      flowControl: { bands: [{ priority: 0, maxRequests: 100 }] },
      server: { grpcPort: 9100, tls: { mode: 'self-signed' } },
      pool: { metrics: { intervalMs: 25 } },
      kubernetes: { poolName: 'other' },
    });
    const plan = planReload(base, next);
    expect(plan.restartRequired).toEqual(['server.grpcPort', 'server.tls', 'pool.metrics', 'kubernetes']);
    expect(plan.effective.server.grpcPort).toBe(9002);
    expect(plan.effective.server.tls.mode).toBe('none');
    expect(plan.effective.pool.metrics.intervalMs).toBe(50);
    expect(plan.effective.kubernetes.poolName).toBeUndefined();
    expect(plan.changed).toEqual([]);
  });

  it('lists only fields that exist in the schema', () => {
    for (const path of RESTART_ONLY_FIELDS) {
      let cur: unknown = base;
      for (const key of path.split('.')) cur = (cur as Record<string, unknown>)[key];
      // proxyPort and seed are optional (absent by default); the others have defaults.
      if (!['server.proxyPort', 'scheduler.seed'].includes(path)) expect(cur, path).toBeDefined();
    }
  });
});
