// Every plug-in name Fairway registers, started from a configuration exactly as an operator writes it, must
// start the server and route a request. The names are read from the registries, so a new plug-in is covered (and
// must be documented in examples/fairway.yaml) without touching this file.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { noopLogger } from '../../../src/core/index.js';
import { arbitrationPolicies, fairnessPolicies, orderingPolicies, usageLimitPolicies } from '../../../src/flowcontrol/index.js';
import { createSaturationDetectorRegistry } from '../../../src/saturation/index.js';
import { createBuiltinRegistries } from '../../../src/scheduler/index.js';
import { FairwayServer } from '../../../src/server/index.js';
import { type SimulatedPool, startSimulatedPool } from '../../../src/simulator/index.js';
import { TEST_MODEL, completionBody, waitFor } from '../../support/service-harness.js';

const scheduler = createBuiltinRegistries();
const QUEUE_ONLY = { filters: [], scorers: [{ type: 'queue-scorer', weight: 1 }], picker: { type: 'max-score-picker' } };

interface Case {
  readonly family: string;
  readonly name: string;
  readonly config: Record<string, Record<string, unknown>>;
}

const cases: Case[] = [
  ...createSaturationDetectorRegistry().names().map((name) => ({ family: 'saturation detector', name, config: { saturation: { detector: name } } })),
  ...fairnessPolicies.names().map((name) => ({ family: 'fairness', name, config: { flowControl: { bandTemplate: { fairness: name } } } })),
  ...orderingPolicies.names().map((name) => ({ family: 'ordering', name, config: { flowControl: { bandTemplate: { ordering: name } } } })),
  ...usageLimitPolicies.names().map((name) => ({ family: 'usage limit', name, config: { flowControl: { usageLimit: { name } } } })),
  ...arbitrationPolicies.names().map((name) => ({ family: 'arbitration', name, config: { flowControl: { arbitration: { name } } } })),
  ...scheduler.filters.names().map((name) => ({ family: 'filter', name, config: { scheduler: { profile: { ...QUEUE_ONLY, filters: [{ type: name }] } } } })),
  ...scheduler.scorers.names().map((name) => ({
    family: 'scorer',
    name,
    config: { scheduler: { profile: { ...QUEUE_ONLY, scorers: [{ type: name, weight: 1 }] } } },
  })),
  ...scheduler.pickers.names().map((name) => ({ family: 'picker', name, config: { scheduler: { profile: { ...QUEUE_ONLY, picker: { type: name } } } } })),
];

let pool: SimulatedPool;
const dispatcher = new Agent({ connections: 4 });

beforeAll(async () => {
  pool = await startSimulatedPool({ replicas: 1, profile: 'ci', model: TEST_MODEL, host: '127.0.0.1' });
});

afterAll(async () => {
  await dispatcher.close();
  await pool?.close();
});

describe('every registered plug-in name', () => {
  it('is documented in examples/fairway.yaml', () => {
    const documented = readFileSync(new URL('../../../examples/fairway.yaml', import.meta.url), 'utf8');
    const missing = cases.filter((c) => !new RegExp(`\\b${c.name.replace(/[-]/g, '\\-')}\\b`).test(documented));
    expect(missing.map((c) => `${c.family} ${c.name}`)).toEqual([]);
  });

  it.each(cases.map((c) => [`${c.family} ${c.name}`, c] as const))('starts the server and routes a request: %s', async (_label, c) => {
    const server = new FairwayServer(
      validateConfig({
        ...c.config,
        pool: { endpoints: [{ host: pool.servers[0]!.host, port: pool.servers[0]!.port }] },
        server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: 0, proxyPort: 0, shutdownGraceMs: 1_000 },
        logging: { level: 'silent' },
      }),
      { logger: noopLogger },
    );
    try {
      const ports = await server.start();
      // Metric-reading detectors hold requests until the first scrape: wait for it rather than race it.
      await waitFor('a first scrape', () => server.monitor.pool.current().endpoints.every((e) => !e.stale));
      const res = await request(`http://127.0.0.1:${ports.proxy}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: completionBody({ max_tokens: 2 }),
        dispatcher,
      });
      const text = await res.body.text();
      expect(res.statusCode, text).toBe(200);
      expect(JSON.parse(text)).toMatchObject({ model: TEST_MODEL });
    } finally {
      await server.shutdown(500);
    }
  });
});
