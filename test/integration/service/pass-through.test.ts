// flowControl.passThrough pins what an operator moving from the Go EPP with flow control off expects: with every
// pod over its thresholds, requests of priority >= 0 are routed at once; sheddable ones still wait (and expire, or
// are shed); and queuing comes back band by band (`bands[].passThrough: false`).
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceHarness, completionBody, startService, waitForScrape } from '../../support/service-harness.js';

const dispatcher = new Agent({ connections: 8 });
// Both pods report a full KV cache and a long queue: the hybrid detector's thresholds are far exceeded.
const OVERLOADED = { waiting: 40, kvUsage: 0.99 };

async function send(port: number, objective: string): Promise<{ status: number; reason: string | undefined }> {
  const res = await request(`http://127.0.0.1:${port}/v1/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-gateway-inference-fairness-id': 'migrating',
      'x-gateway-inference-objective': objective,
      'x-fairway-request-ttl-ms': '400',
    },
    body: completionBody({ max_tokens: 2 }),
    dispatcher,
  });
  await res.body.text();
  const reason = res.headers['x-fairway-drop-reason'];
  return { status: res.statusCode, reason: typeof reason === 'string' ? reason : undefined };
}

async function overloadedService(flowControl: Record<string, unknown>): Promise<ServiceHarness> {
  const h = await startService({
    replicas: 2,
    proxy: true,
    fakeMetrics: [OVERLOADED, OVERLOADED],
    config: { objectives: { critical: 10, standard: 0, batch: -1 }, flowControl },
  });
  await waitForScrape(h.server, h.ids, (e) => e.metrics?.kvCacheUsage === 0.99);
  expect(h.server.saturation.saturation()).toBeGreaterThanOrEqual(1);
  return h;
}

afterAll(async () => {
  await dispatcher.close();
});

describe('flowControl.passThrough: true', () => {
  let h: ServiceHarness;
  beforeAll(async () => {
    h = await overloadedService({ passThrough: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('routes priority >= 0 at once over thresholds; sheddable work waits and expires', async () => {
    const port = h.ports.proxy as number;
    const [critical, standard, batch] = await Promise.all([send(port, 'critical'), send(port, 'standard'), send(port, 'batch')]);
    expect(critical).toEqual({ status: 200, reason: undefined });
    expect(standard).toEqual({ status: 200, reason: undefined });
    expect(batch).toEqual({ status: 429, reason: 'ttl' });
  });
});

describe('flowControl.passThrough with queuing turned back on for one band', () => {
  let h: ServiceHarness;
  beforeAll(async () => {
    h = await overloadedService({ passThrough: true, bands: [{ priority: 10, passThrough: false }] });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('holds that band (it expires) and still routes the pass-through band below it at once', async () => {
    const port = h.ports.proxy as number;
    const [critical, standard] = await Promise.all([send(port, 'critical'), send(port, 'standard')]);
    expect(critical).toEqual({ status: 429, reason: 'ttl' });
    expect(standard).toEqual({ status: 200, reason: undefined });
  });
});

describe('default (flow control on)', () => {
  let h: ServiceHarness;
  beforeAll(async () => {
    h = await overloadedService({});
  });
  afterAll(async () => {
    await h?.close();
  });

  it('holds every priority over thresholds', async () => {
    const port = h.ports.proxy as number;
    const [critical, standard] = await Promise.all([send(port, 'critical'), send(port, 'standard')]);
    expect(critical).toEqual({ status: 429, reason: 'ttl' });
    expect(standard).toEqual({ status: 429, reason: 'ttl' });
  });
});
