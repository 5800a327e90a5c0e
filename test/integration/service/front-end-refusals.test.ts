// Requests a front end answers itself, before the pipeline sees them (an ext_proc body mode no route can be given
// in, a body or headers over the limit), through a real server: each is counted in fairway_shed_requests_total by
// reason and status with priority "none" (no identity was read), and nothing else counts it as a model request.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFUSED_PRIORITY } from '../../../src/observability/index.js';
import { type ServiceHarness, completionBody, metricValue, startService, waitForScrape } from '../../support/service-harness.js';

const MAX_BODY_BYTES = 4 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;
let h: ServiceHarness;

beforeAll(async () => {
  h = await startService({ replicas: 1, proxy: true, config: { server: { maxBodyBytes: MAX_BODY_BYTES, maxHeaderBytes: MAX_HEADER_BYTES } } });
  await waitForScrape(h.server, h.ids, () => true);
});

afterAll(async () => {
  await h?.close();
});

const shed = async (reason: string, status: string): Promise<number> =>
  metricValue(await h.server.registry.metrics(), 'fairway_shed_requests_total', { reason, status, priority: REFUSED_PRIORITY });

describe('front-end refusals are counted as shed requests', () => {
  it('counts each 500 unsupported-processing-mode, whatever the mode, and no model request', async () => {
    const modes = ['STREAMED', 'STREAMED', 'BUFFERED_PARTIAL', 'NONE'];
    for (const mode of modes) {
      const ex = await h.client.sendBufferedRequest({
        bodyChunks: [completionBody()],
        protocolConfig: { ...(mode === 'NONE' ? {} : { request_body_mode: mode }), response_body_mode: 'STREAMED' },
      });
      expect(ex.immediate?.status).toBe(500);
      expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('unsupported-processing-mode');
    }
    expect(await shed('unsupported-processing-mode', '500')).toBe(modes.length);
    expect(metricValue(await h.server.registry.metrics(), 'inference_objective_request_total')).toBe(0);
  });

  it('counts 413 body-too-large from both front ends', async () => {
    const big = completionBody({ prompt: 'x'.repeat(MAX_BODY_BYTES) });
    const ex = await h.client.sendRequest({ bodyChunks: [big] });
    expect(ex.immediate?.status).toBe(413);
    ex.stream.end();
    const res = await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    await res.body.text();
    expect(res.statusCode).toBe(413);
    expect(await shed('body-too-large', '413')).toBe(2);
  });

  it('counts 431 header-too-large from both front ends', async () => {
    const ex = await h.client.sendRequest({ headers: { 'x-big': 'a'.repeat(MAX_HEADER_BYTES + 1) }, bodyChunks: [completionBody()] });
    expect(ex.immediate?.status).toBe(431);
    ex.stream.end();
    const res = await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-big': 'a'.repeat(MAX_HEADER_BYTES + 1) },
      body: completionBody(),
    });
    await res.body.text();
    expect(res.statusCode).toBe(431);
    expect(await shed('header-too-large', '431')).toBe(2);
  });
});
