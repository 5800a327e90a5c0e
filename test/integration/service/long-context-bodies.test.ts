// Long and unusual request bodies through every front end of a real FairwayServer, against simulated pods:
// ext_proc as Envoy drives it in FULL_DUPLEX_STREAMED and in BUFFERED mode, and the HTTP proxy. Each must read a
// multi-byte character cut between chunks, a `model` key after a 1 MB prompt, chat messages with image parts, refuse
// invalid JSON at the end of a long body with 400 (nothing routed), and keep prefix affinity for prompts longer than
// the hashing depth on the part that is hashed.
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PREFIX_CACHE_SCORER, MAX_SCORE_PICKER } from '../../../src/scheduler/index.js';
import { type EnvoyExtProcClient } from '../../support/envoy-ext-proc-client.js';
import {
  type ServiceHarness,
  TEST_MODEL,
  completionBody,
  inferenceHeaders,
  metricValue,
  startService,
  waitForIdle,
} from '../../support/service-harness.js';

/** Prompt bytes hashed: 8 blocks of 64 bytes. */
const DEPTH_BLOCKS = 8;

let h: ServiceHarness;
/** Requests each simulated pod's engine has queued (index = replica). */
const engineRequests: number[] = [];

beforeAll(async () => {
  h = await startService({
    replicas: 2,
    proxy: true,
    config: {
      // Prefix affinity alone decides, so where a request goes shows what its hashes matched.
      scheduler: {
        profile: { filters: [], scorers: [{ type: PREFIX_CACHE_SCORER, weight: 1 }], picker: { type: MAX_SCORE_PICKER } },
        prefix: { maxPrefixBlocksToMatch: DEPTH_BLOCKS },
      },
    },
  });
  h.pool.simulators.forEach((sim, i) => {
    engineRequests[i] = 0;
    sim.engine.observe((e) => {
      if (e.kind === 'queue') engineRequests[i] = (engineRequests[i] ?? 0) + 1;
    });
  });
});

afterAll(async () => {
  await h?.close();
});

afterEach(async () => {
  await waitForIdle(h.server);
});

/** What a front end did with one request. */
interface Outcome {
  /** 200 when routed (ext_proc) or the model server's status (proxy); else Fairway's rejection. */
  readonly status: number;
  readonly dropReason: string | undefined;
  /** The endpoint it went to. */
  readonly endpoint: string | undefined;
  /** ext_proc: the model header set towards the model server. */
  readonly modelHeader: string | undefined;
  /** ext_proc: the body Envoy forwards upstream. */
  readonly forwarded: Buffer | undefined;
  /** proxy: the response body. */
  readonly text: string;
  /** ext_proc: how many answers the request phase got. */
  readonly answers: readonly string[];
}

interface FrontEnd {
  readonly name: string;
  send(tenant: string, path: string, chunks: readonly Buffer[]): Promise<Outcome>;
}

async function viaExtProc(client: EnvoyExtProcClient, buffered: boolean, tenant: string, path: string, chunks: readonly Buffer[]): Promise<Outcome> {
  const spec = { headers: inferenceHeaders(tenant), path, bodyChunks: chunks };
  const ex = buffered
    ? await client.sendBufferedRequest({ ...spec, protocolConfig: { request_body_mode: 'BUFFERED', response_body_mode: 'STREAMED' } })
    : await client.sendRequest(spec);
  const answers = ex.responses.map((r) => String(r['response']));
  // Envoy's stream ends with the HTTP request; nothing is forwarded in these tests.
  ex.stream.end();
  if (ex.immediate !== undefined) {
    return { status: ex.immediate.status, dropReason: ex.immediate.headers.get('x-fairway-drop-reason'), endpoint: undefined, modelHeader: undefined, forwarded: undefined, text: ex.immediate.body, answers };
  }
  const forwarded = 'forwardedBody' in ex ? ex.forwardedBody : ex.body;
  return {
    status: 200,
    dropReason: undefined,
    endpoint: ex.setHeaders.get('x-gateway-destination-endpoint'),
    modelHeader: ex.setHeaders.get('x-gateway-model-name'),
    forwarded,
    text: '',
    answers,
  };
}

async function viaProxy(tenant: string, path: string, chunks: readonly Buffer[]): Promise<Outcome> {
  const before = [...engineRequests];
  const res = await request(`http://127.0.0.1:${h.ports.proxy ?? 0}${path}`, {
    method: 'POST',
    headers: inferenceHeaders(tenant),
    // Written chunk by chunk, as a client streaming its upload.
    body: Readable.from(chunks.map((c) => Buffer.from(c))),
  });
  const text = await res.body.text();
  const served = engineRequests.findIndex((n, i) => n > (before[i] ?? 0));
  const drop = res.headers['x-fairway-drop-reason'];
  return {
    status: res.statusCode,
    dropReason: typeof drop === 'string' ? drop : undefined,
    endpoint: served >= 0 ? h.ids[served] : undefined,
    modelHeader: undefined,
    forwarded: undefined,
    text,
    answers: [],
  };
}

const FRONT_ENDS: readonly FrontEnd[] = [
  { name: 'ext_proc FULL_DUPLEX_STREAMED', send: (t, p, c) => viaExtProc(h.client, false, t, p, c) },
  { name: 'ext_proc BUFFERED', send: (t, p, c) => viaExtProc(h.client, true, t, p, c) },
  { name: 'proxy', send: viaProxy },
];

/** Cuts `body` every `size` bytes: an odd size lands inside multi-byte characters. */
function cut(body: Buffer, size: number): Buffer[] {
  return Array.from({ length: Math.ceil(body.length / size) }, (_, i) => body.subarray(i * size, (i + 1) * size));
}

describe.each(FRONT_ENDS)('$name', (fe) => {
  // In BUFFERED mode Envoy joins the chunks into one message (so does the test client): nothing is cut there.
  it('reads a body whose multi-byte characters are cut between chunks as the same prompt as the whole body', async () => {
    const body = Buffer.from(completionBody({ prompt: `${fe.name}: ${'é中😀'.repeat(400)}` }));
    const split = await fe.send('t-utf8', '/v1/completions', cut(body, 1_001));
    expect(split.status).toBe(200);
    if (split.forwarded !== undefined) expect(split.forwarded.equals(body)).toBe(true);
    // The same prompt in one piece hashes the same, so prefix affinity sends it where the cut one went.
    const whole = await fe.send('t-utf8', '/v1/completions', [body]);
    expect(whole.status).toBe(200);
    expect(whole.endpoint).toBe(split.endpoint);
  });

  it('finds `model` after a 1 MB prompt', async () => {
    const body = Buffer.from(`{"prompt":"${'p'.repeat(1_000_000)}","max_tokens":4,"model":"${TEST_MODEL}"}`);
    const out = await fe.send('t-late-model', '/v1/completions', cut(body, 65_536));
    expect(out.dropReason).toBeUndefined();
    if (fe.name === 'proxy') {
      // The pod got it (and refuses a 250k-token prompt as vLLM would): Fairway routed it.
      expect(out.status).toBe(400);
      expect(out.text).toMatch(/maximum context length/);
    } else {
      expect(out.status).toBe(200);
      expect(out.modelHeader).toBe(TEST_MODEL);
    }
  });

  it('routes chat messages with image parts', async () => {
    const body = Buffer.from(
      JSON.stringify({
        model: TEST_MODEL,
        max_tokens: 4,
        messages: [
          { role: 'system', content: 'You describe pictures.' },
          {
            role: 'user',
            content: [
              { type: 'image_url', image_url: { url: `data:image/png;base64,${'iVBORw0KGgo'.repeat(300)}` } },
              { type: 'text', text: 'What is in the picture?' },
            ],
          },
        ],
      }),
    );
    const out = await fe.send('t-image', '/v1/chat/completions', cut(body, 997));
    expect(out.dropReason).toBeUndefined();
    expect(out.status).toBe(200);
    expect(out.endpoint).toBeDefined();
    if (out.modelHeader !== undefined) expect(out.modelHeader).toBe(TEST_MODEL);
  });

  it('answers 400 bad-request for invalid JSON at the end of a long body, and routes nothing', async () => {
    const good = Buffer.from(completionBody({ prompt: `${fe.name} ${'x'.repeat(300_000)}` }));
    const bad = Buffer.concat([good.subarray(0, good.length - 1), Buffer.from(',}')]); // a trailing comma, 300 KB in
    const shedBefore = metricValue(await h.server.registry.metrics(), 'fairway_shed_requests_total', { reason: 'bad-request', status: '400' });
    const queuedBefore = [...engineRequests];
    const out = await fe.send('t-bad-end', '/v1/completions', cut(bad, 16_384));
    expect(out.status).toBe(400);
    expect(out.dropReason).toBe('bad-request');
    expect(out.endpoint).toBeUndefined();
    if (fe.name !== 'proxy') expect(out.answers.at(-1)).toBe('immediate_response');
    if (fe.name === 'ext_proc BUFFERED') expect(out.answers).toEqual(['request_headers', 'immediate_response']);
    if (fe.name === 'ext_proc FULL_DUPLEX_STREAMED') expect(out.answers).toEqual(['immediate_response']);
    expect(engineRequests).toEqual(queuedBefore);
    const shedAfter = metricValue(await h.server.registry.metrics(), 'fairway_shed_requests_total', { reason: 'bad-request', status: '400' });
    expect(shedAfter).toBe(shedBefore + 1);
  });

  it('keeps prefix affinity for prompts longer than the hashing depth, on the hashed part', async () => {
    // Two preambles longer than the 512 hashed bytes; what follows them differs from request to request.
    const preamble = (n: number): string => `${fe.name} preamble ${n}: ${'a shared system prompt with tools. '.repeat(20)}`;
    expect(preamble(0).length).toBeGreaterThan(DEPTH_BLOCKS * 64);
    const leaders: (string | undefined)[] = [];
    for (const n of [0, 1]) {
      const out = await fe.send('t-depth', '/v1/completions', [Buffer.from(completionBody({ prompt: `${preamble(n)} first question` }))]);
      expect(out.status).toBe(200);
      leaders.push(out.endpoint);
    }
    for (let i = 0; i < 4; i++) {
      for (const n of [0, 1]) {
        const out = await fe.send('t-depth', '/v1/completions', [Buffer.from(completionBody({ prompt: `${preamble(n)} follow-up ${i}: ${'z'.repeat(i * 50)}` }))]);
        expect({ n, i, endpoint: out.endpoint }).toEqual({ n, i, endpoint: leaders[n] });
      }
    }
  });
});
