import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock, noopLogger } from '../../../src/core/index.js';
import { type BodyModes, type ProcessingResponse, type StreamTransport, ExtProcStream } from '../../../src/extproc/index.js';
import { type RequestHandler } from '../../../src/gateway/index.js';
import { type StartedResponseEviction } from '../../../src/gateway/index.js';
import { RoutesEvictably, rejectsWith, routesToFixedEndpoint } from '../../support/fake-request-handlers.js';

class FakeTransport implements StreamTransport {
  readonly sent: ProcessingResponse[] = [];
  readonly closes: string[] = [];
  send(r: ProcessingResponse): void {
    if (this.closes.length > 0) throw new Error('send after close');
    this.sent.push(r);
  }
  end(): void {
    this.closes.push('end');
  }
  fail(code: string): void {
    this.closes.push(code);
  }
}

function newStream(handler: RequestHandler, startedResponseEviction?: StartedResponseEviction, bodyModes?: BodyModes) {
  const transport = new FakeTransport();
  const stream = new ExtProcStream(transport, {
    handler,
    logger: noopLogger,
    clock: new ManualClock(),
    bodyChunkBytes: 62_000,
    maxRequestBodyBytes: 1_000,
    maxRequestHeaderBytes: 4_096,
    ...(startedResponseEviction === undefined ? {} : { startedResponseEviction }),
    ...(bodyModes === undefined ? {} : { bodyModes }),
  });
  return { transport, stream };
}

const flush = () => new Promise((r) => setImmediate(r));
const headers = (eos: boolean) => ({ request: 'request_headers', request_headers: { headers: { headers: [] }, end_of_stream: eos } });
const reqBody = (s: string, eos: boolean) => ({ request: 'request_body', request_body: { body: Buffer.from(s), end_of_stream: eos } });
const respHeaders = (eos: boolean) => ({
  request: 'response_headers',
  response_headers: { headers: { headers: [{ key: ':status', raw_value: Buffer.from('200') }] }, end_of_stream: eos },
});
const respBody = (s: string, eos: boolean) => ({ request: 'response_body', response_body: { body: Buffer.from(s), end_of_stream: eos } });

describe('ExtProcStream first-token signal', () => {
  it('takes the response headers as the start of the answer only when no response body will pass through (response_body_mode NONE)', async () => {
    for (const [response, starts] of [
      ['NONE', 1],
      ['FULL_DUPLEX_STREAMED', 0],
    ] as const) {
      const handler = routesToFixedEndpoint('1.2.3.4:5');
      const { stream } = newStream(handler, undefined, { request: 'FULL_DUPLEX_STREAMED', response });
      stream.onMessage(headers(false));
      stream.onMessage(reqBody('{"model":"m","stream":true}', true));
      await flush();
      stream.onMessage(respHeaders(false));
      const observer = handler.observers[0];
      expect(observer?.responseStarts).toBe(starts);
      stream.onCancel();
    }
  });
});

describe('ExtProcStream in-flight eviction', () => {
  async function routed(policy?: StartedResponseEviction) {
    const handler = new RoutesEvictably('1.2.3.4:5');
    const { transport, stream } = newStream(handler, policy);
    stream.onMessage(headers(false));
    stream.onMessage(reqBody('{}', true));
    await flush();
    return { handler, transport, stream };
  }
  const immediate = (r: ProcessingResponse | undefined) => (r !== undefined && 'immediate_response' in r ? r.immediate_response : undefined);

  it('before response headers: an ImmediateResponse 429 evicted with Retry-After, the stream closed, the observer told once', async () => {
    const { handler, transport, stream } = await routed();
    expect(handler.evict()).toBe(true);
    expect(handler.lastObserver().ends).toEqual(['evicted']);
    await flush();
    const answer = immediate(transport.sent.at(-1));
    expect(answer?.status.code).toBe(429);
    const set = new Map(answer?.headers.set_headers.map((h) => [h.header.key, h.header.raw_value.toString('latin1')]));
    expect(set.get('x-fairway-drop-reason')).toBe('evicted');
    expect(set.get('retry-after')).toBe('1');
    expect(transport.closes).toEqual(['end']);
    // Envoy's late messages change nothing; a second eviction is declined.
    stream.onMessage(respHeaders(false));
    expect(handler.evict()).toBe(false);
    expect(handler.lastObserver().ends).toEqual(['evicted']);
  });

  it('after response headers: sends the ImmediateResponse under `end` (Envoy resets the stream), declines under `spare`', async () => {
    const ended = await routed('end');
    ended.stream.onMessage(respHeaders(false));
    expect(ended.handler.evict()).toBe(true);
    await flush();
    expect(immediate(ended.transport.sent.at(-1))?.status.code).toBe(429);

    const spared = await routed('spare');
    spared.stream.onMessage(respHeaders(false));
    expect(spared.handler.evict()).toBe(false);
    spared.stream.onMessage(respBody('x', true));
    expect(spared.handler.lastObserver().ends).toEqual(['complete']);
  });

  it('never takes back a response that has completed', async () => {
    const { handler, stream } = await routed();
    stream.onMessage(respHeaders(false));
    stream.onMessage(respBody('done', true));
    expect(handler.evict()).toBe(false);
    expect(handler.lastObserver().ends).toEqual(['complete']);
  });
});

describe('ExtProcStream', () => {
  it('sends header then body answers in order, after the whole body, one per received chunk', async () => {
    const { transport, stream } = newStream(routesToFixedEndpoint('1.2.3.4:5'));
    stream.onMessage(headers(false));
    stream.onMessage(reqBody('ab', false));
    await flush();
    expect(transport.sent).toEqual([]);
    stream.onMessage(reqBody('c', true));
    await flush();
    expect(transport.sent.map((r) => Object.keys(r)[0])).toEqual(['request_headers', 'request_body', 'request_body']);
  });

  it('reads header values from value when raw_value is empty (older Envoy)', async () => {
    const handler = routesToFixedEndpoint('1.2.3.4:5');
    const { stream } = newStream(handler);
    stream.onMessage({
      request: 'request_headers',
      request_headers: { headers: { headers: [{ key: 'X-Request-Id', value: 'old' }, { key: 'a', value: '1' }, { key: 'a', value: '2' }] }, end_of_stream: true },
    });
    await flush();
    expect(handler.lastRequest().requestId).toBe('old');
    expect(handler.lastRequest().headers.get('a')).toBe('1, 2');
  });

  it('ignores everything after an immediate response', async () => {
    const { transport, stream } = newStream(rejectsWith({ status: 503, reason: 'no-endpoints', message: 'x' }));
    stream.onMessage(headers(true));
    await flush();
    expect(transport.closes).toEqual(['end']);
    stream.onMessage(reqBody('x', true));
    stream.onHalfClose();
    stream.onCancel();
    expect(transport.closes).toEqual(['end']);
    expect(stream.closed).toBe(true);
  });

  it('every sequence of messages and closes, in every body mode, ends the stream at most once and the observer at most once, with at most one route', async () => {
    const announced = (request: string, response: string) => ({ ...headers(false), protocol_config: { request_body_mode: request, response_body_mode: response } });
    const message = fc.oneof(
      fc.constant(headers(false)),
      fc.constant(headers(true)),
      fc.constant(announced('BUFFERED', 'STREAMED')),
      fc.constant(announced('FULL_DUPLEX_STREAMED', 'NONE')),
      fc.constant(announced('STREAMED', 'STREAMED')),
      fc.constant(reqBody('x', false)),
      fc.constant(reqBody('{"model":"m"}', true)),
      fc.constant({ request: 'request_trailers', request_trailers: {} }),
      fc.constant(respHeaders(false)),
      fc.constant(respHeaders(true)),
      fc.constant(respBody('data: 1\n\n', false)),
      fc.constant(respBody('', true)),
      fc.constant({ request: 'response_trailers', response_trailers: {} }),
      fc.constant({}),
      fc.constant(null),
      fc.constant({ request: 'request_body' }),
      fc.constant({ request: 'bogus' }),
      fc.constant(reqBody('y'.repeat(600), false)),
    );
    const modes = fc.constantFrom<BodyModes | undefined>(
      undefined,
      { request: 'BUFFERED', response: 'FULL_DUPLEX_STREAMED' },
      { request: 'BUFFERED', response: 'STREAMED' },
      { request: 'FULL_DUPLEX_STREAMED', response: 'NONE' },
    );
    const step = fc.oneof(
      { weight: 8, arbitrary: message.map((m) => ({ m })) },
      { weight: 1, arbitrary: fc.constantFrom('halfclose', 'cancel', 'flush') },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 14 }), fc.boolean(), modes, async (steps, reject, bodyModes) => {
        const handler = reject
          ? rejectsWith({ status: 429, reason: 'capacity', message: 'full', retryAfterSeconds: 1 })
          : routesToFixedEndpoint('1.2.3.4:5');
        const { transport, stream } = newStream(handler, undefined, bodyModes);
        for (const s of steps) {
          if (s === 'halfclose') stream.onHalfClose();
          else if (s === 'cancel') stream.onCancel();
          else if (s === 'flush') await flush();
          else stream.onMessage(s.m);
        }
        await flush();
        stream.onCancel(); // whatever happened, the stream goes away in the end
        await flush();
        expect(transport.closes.length).toBeLessThanOrEqual(1);
        expect(stream.closed).toBe(true);
        // A route is given once, in the headers' answer or (BUFFERED) in the body's, never both.
        const routes = transport.sent.filter((r) => JSON.stringify(r).includes('x-gateway-destination-endpoint'));
        expect(routes.length).toBeLessThanOrEqual(1);
        expect(routes.length).toBeLessThanOrEqual(handler.requests.length);
        for (const o of handler.observers) {
          if (!reject) expect(o.ends.length).toBe(1);
        }
        for (const r of handler.requests) {
          const o = handler.observers[handler.requests.indexOf(r)];
          if (o?.ends[0] === 'aborted') expect(r.signal.aborted).toBe(true);
          if (o?.ends[0] === 'complete') expect(r.signal.aborted).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
