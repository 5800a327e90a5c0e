// In-flight eviction end to end: running sheddable requests are taken back when interactive work is blocked.
// Proxy mode: the upstream request is aborted (the model server frees it) and the client gets 429 evicted, or an
// SSE error event once its stream has started. ext_proc mode: an ImmediateResponse on the victim's stream.
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT_TOKENS_HEADER } from '../../../src/simulator/index.js';
import { immediateOf, readRequestPhase } from '../../support/envoy-ext-proc-client.js';
import {
  type ServiceHarness,
  completionBody,
  inferenceHeaders,
  metricValue,
  openRequest,
  queuedInBand,
  startService,
  waitFor,
  waitForIdle,
} from '../../support/service-harness.js';

const OBJECTIVES = { interactive: 10, batch: -1 };
/** The pool counts as full at two of Fairway's requests in flight on its one endpoint. */
const TWO_SLOTS = { detector: 'hybrid', options: { stalenessMs: 2_000, maxRequests: 2 } };

async function metrics(h: ServiceHarness): Promise<string> {
  return h.server.registry.metrics();
}

function aborts(h: ServiceHarness): number {
  return metricValue(h.pool.simulators[0]?.metrics.render() ?? '', 'vllm:request_success_total', { finished_reason: 'abort' });
}

/** Preemptions of the batch band for the interactive one, counted so far (the counter lives as long as the server). */
async function evictions(h: ServiceHarness): Promise<number> {
  return metricValue(await metrics(h), 'fairway_inflight_evictions_total', { priority: '-1', reason: 'preempted', for_priority: '10' });
}

describe('in-flight eviction through the proxy', () => {
  let h: ServiceHarness;
  let base: string;
  const dispatcher = new Agent({ connections: 16 });

  beforeAll(async () => {
    h = await startService({ replicas: 1, proxy: true, config: { objectives: OBJECTIVES, saturation: TWO_SLOTS } });
    base = `http://127.0.0.1:${h.ports.proxy}`;
  });
  afterAll(async () => {
    await dispatcher.close();
    await h?.close();
  });
  afterEach(async () => {
    await waitForIdle(h.server, 10_000);
  });

  function post(objective: string, extra: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal) {
    return request(`${base}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gateway-inference-objective': objective, ...headers },
      body: completionBody(extra),
      dispatcher,
      ...(signal === undefined ? {} : { signal }),
    });
  }

  it('answers the victim 429 evicted with Retry-After, closes its upstream request, and serves the interactive one', async () => {
    const engine = h.pool.simulators[0]!.engine;
    const abortsBefore = aborts(h);
    const evictionsBefore = await evictions(h);
    const long = { max_tokens: 3_000 };
    const clients = [new AbortController(), new AbortController()];
    const batch = clients.map((c, i) =>
      post('batch', long, { [OUTPUT_TOKENS_HEADER]: '3000' }, c.signal).then((response) => ({ response, i })),
    );
    await waitFor('both batch requests running', () => engine.stats().running === 2);
    const urgent = await post('interactive', { max_tokens: 4 });
    expect(urgent.statusCode).toBe(200);
    await urgent.body.text();

    // Non-streaming: the survivor answers only when done; the victim answers now.
    const { response: victim, i } = await Promise.race(batch);
    expect(victim.statusCode).toBe(429);
    expect(victim.headers['x-fairway-drop-reason']).toBe('evicted');
    expect(victim.headers['retry-after']).toBe('1');
    expect(JSON.parse(await victim.body.text())).toMatchObject({ error: { code: 'evicted', type: 'rate_limit_error' } });
    // The model server saw the disconnect: every victim is aborted there and its blocks freed. Usually one victim;
    // on a loaded host the saturation signal can still count the first victim when the gate re-runs, and a second
    // request is evicted for the same blocked one (a known over-eviction: see bench/README.md, issue 13), so the
    // test pins that each eviction Fairway counts is an abort at the server, not the count itself.
    const evicted = async (): Promise<number> => (await evictions(h)) - evictionsBefore;
    await waitFor('the model server to abort the victim', async () => aborts(h) > abortsBefore && aborts(h) - abortsBefore === (await evicted()));
    const n = await evicted();
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(2);
    expect(engine.stats().running).toBe(2 - n);
    // A survivor, if any, is still running; its client gives up.
    const survivor = batch[1 - i];
    clients[1 - i]?.abort();
    await survivor?.catch(() => undefined);
    await waitFor('the model server to let the survivor go too', () => !engine.busy);
  });

  it('ends a started SSE stream with an OpenAI-style error event and [DONE]', async () => {
    const engine = h.pool.simulators[0]!.engine;
    const abortsBefore = aborts(h);
    const evictionsBefore = await evictions(h);
    const stream = { max_tokens: 3_000, stream: true };
    const batch = await Promise.all([
      post('batch', stream, { [OUTPUT_TOKENS_HEADER]: '3000' }),
      post('batch', stream, { [OUTPUT_TOKENS_HEADER]: '3000' }),
    ]);
    // Both started: headers and a first token reached the client.
    expect(batch.map((b) => b.statusCode)).toEqual([200, 200]);
    await waitFor('both streams decoding', () => engine.stats().running === 2);
    const texts = batch.map((b) => b.body.text().catch(() => ''));
    const urgent = await post('interactive', { max_tokens: 4 });
    expect(urgent.statusCode).toBe(200);
    await urgent.body.text();
    // One victim, or two under the known over-eviction (see the test above): each counted eviction is an abort.
    const evicted = async (): Promise<number> => (await evictions(h)) - evictionsBefore;
    await waitFor('the model server to abort the victim', async () => aborts(h) > abortsBefore && aborts(h) - abortsBefore === (await evicted()));
    expect(await evicted()).toBeLessThanOrEqual(2);
    // A victim's stream ends first, with the error event; a survivor runs on until the test cuts it.
    const victimIndex = await Promise.race(texts.map((t, i) => t.then(() => i)));
    const victimText = await texts[victimIndex]!;
    const events = victimText.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(events.at(-2)!.slice(6))).toMatchObject({ error: { code: 'evicted' } });
    batch[1 - victimIndex]?.body.destroy();
    await waitFor('the model server to let the survivor go too', () => !engine.busy);
  });
});

describe('in-flight eviction with started responses spared', () => {
  it('declines to take back streams whose first byte went out; the blocked request waits for capacity instead', async () => {
    const h = await startService({
      replicas: 1,
      proxy: true,
      config: { objectives: OBJECTIVES, saturation: TWO_SLOTS, flowControl: { inflightEviction: { startedResponses: 'spare' } } },
    });
    const dispatcher = new Agent({ connections: 8 });
    try {
      const post = (objective: string, extra: Record<string, unknown>, headers: Record<string, string> = {}) =>
        request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-gateway-inference-objective': objective, ...headers },
          body: completionBody(extra),
          dispatcher,
        });
      const long = { max_tokens: 3_000, stream: true };
      const streams = await Promise.all([post('batch', long, { [OUTPUT_TOKENS_HEADER]: '3000' }), post('batch', long, { [OUTPUT_TOKENS_HEADER]: '3000' })]);
      expect(streams.map((s) => s.statusCode)).toEqual([200, 200]);
      await waitFor('both streams decoding', () => h.pool.simulators[0]!.engine.stats().running === 2);
      const urgent = post('interactive', { max_tokens: 4 });
      await waitFor('both victims to decline', async () => metricValue(await metrics(h), 'fairway_inflight_evictions_declined_total', { priority: '-1' }) === 2);
      expect(queuedInBand(h.server, 10)).toBe(1);
      expect(metricValue(await metrics(h), 'fairway_inflight_evictions_total')).toBe(0);
      // A stream's client leaves: its capacity, not an eviction, lets the interactive request through.
      streams[0]?.body.destroy();
      expect((await urgent).statusCode).toBe(200);
      streams[1]?.body.destroy();
      await waitForIdle(h.server, 10_000);
    } finally {
      await dispatcher.close();
      await h.close();
    }
  });
});

describe('in-flight eviction through ext_proc', () => {
  it('sends the victim an ImmediateResponse 429 evicted before its response headers, and routes the blocked request', async () => {
    const h = await startService({
      replicas: 1,
      config: { objectives: OBJECTIVES, saturation: { detector: 'hybrid', options: { stalenessMs: 2_000, maxRequests: 1 } } },
    });
    try {
      const batch = openRequest(h.client, inferenceHeaders('bulk', 'batch'), completionBody());
      const routed = await readRequestPhase(batch, { expectBody: true, expectTrailers: false });
      expect(routed.immediate).toBeUndefined();
      // The batch request is "at the model server" (Envoy would be forwarding it): Fairway counts it in flight.
      const urgent = openRequest(h.client, inferenceHeaders('chat', 'interactive'), completionBody());
      const answer = immediateOf(await batch.expectNext());
      expect(answer?.status).toBe(429);
      expect(answer?.headers.get('x-fairway-drop-reason')).toBe('evicted');
      expect(answer?.headers.get('retry-after')).toBe('1');
      const urgentRouted = await readRequestPhase(urgent, { expectBody: true, expectTrailers: false });
      expect(urgentRouted.immediate).toBeUndefined();
      expect(urgentRouted.setHeaders.get('x-gateway-destination-endpoint')).toBe(h.ids[0]);
      urgent.end();
      await waitFor('the evicted stream to release its lease', () => h.server.flowControl.stats().evictionsOutstanding === 0);
      expect(metricValue(await metrics(h), 'fairway_inflight_evictions_total', { priority: '-1', for_priority: '10' })).toBe(1);
      await waitForIdle(h.server, 10_000);
    } finally {
      await h.close();
    }
  });
});
