// The ext_proc service driven as Envoy drives it in the other body modes: BUFFERED requests (headers answered at
// once, the whole body in one message, the route in the body's answer), modes that cannot carry a route, and
// response bodies Envoy keeps itself (STREAMED, NONE).
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { type Logger, noopLogger } from '../../../src/core/index.js';
import { bodyToBuffer } from '../../../src/gateway/index.js';
import { streamedBodyOf } from '../../support/envoy-ext-proc-client.js';
import { useExtProcService } from '../../support/ext-proc-fixture.js';
import { rejectsWith, rewritesBody, routesToFixedEndpoint } from '../../support/fake-request-handlers.js';

const JSON_BODY = JSON.stringify({ model: 'm', prompt: 'hello' });
const ANNOUNCED_BUFFERED = { request_body_mode: 'BUFFERED', response_body_mode: 'FULL_DUPLEX_STREAMED' } as const;

const serve = useExtProcService();

describe('BUFFERED request bodies', () => {
  it('answers the headers at once, then routes in the body answer without sending the body back', async () => {
    const handler = routesToFixedEndpoint(['10.0.0.1:8000', '10.0.0.2:8000'], { setHeaders: { 'x-extra': 'yes' } });
    const { client } = await serve(handler);
    const ex = await client.sendBufferedRequest({
      headers: { 'x-gateway-inference-objective': 'chat' },
      bodyChunks: [JSON_BODY],
      protocolConfig: ANNOUNCED_BUFFERED,
    });
    expect(ex.immediate).toBeUndefined();
    expect(ex.responses.map((r) => r['response'])).toEqual(['request_headers', 'request_body']);
    expect(ex.headersAnswerSetHeaders.size).toBe(0);
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000,10.0.0.2:8000');
    expect(ex.metadataDestination).toBe('10.0.0.1:8000,10.0.0.2:8000');
    expect(ex.clearRouteCache).toBe(true);
    expect(ex.setHeaders.get('x-extra')).toBe('yes');
    expect(ex.setHeaders.get('x-request-id')).toBe(handler.lastRequest().requestId); // generated here
    // Envoy keeps and forwards its own body: no mutation, and its Content-Length stays as it is.
    expect(ex.replacedBody).toBeUndefined();
    expect(ex.setHeaders.has('content-length')).toBe(false);
    expect(bodyToBuffer(handler.lastRequest().body).toString()).toBe(JSON_BODY);
    expect(handler.lastRequest().headers.get('x-gateway-inference-objective')).toBe('chat');
    expect(handler.requests.length).toBe(1);
    ex.stream.end();
    expect((await ex.stream.status).code).toBe(grpc.status.OK);
  });

  it('takes BUFFERED from the configured modes when Envoy sends no protocol_config', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler, { bodyModes: { request: 'BUFFERED', response: 'FULL_DUPLEX_STREAMED' } });
    const ex = await client.sendBufferedRequest({ bodyChunks: [JSON_BODY] });
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    expect(ex.replacedBody).toBeUndefined();
    ex.stream.end();
  });

  it('lets protocol_config win over the configured modes (FULL_DUPLEX_STREAMED announced, BUFFERED configured)', async () => {
    const { client } = await serve(routesToFixedEndpoint('10.0.0.1:8000'), { bodyModes: { request: 'BUFFERED', response: 'STREAMED' } });
    const ex = await client.sendRequest({
      bodyChunks: ['{"model":', '"m"}'],
      protocolConfig: { request_body_mode: 'FULL_DUPLEX_STREAMED', response_body_mode: 'FULL_DUPLEX_STREAMED' },
    });
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    expect(ex.body.toString()).toBe('{"model":"m"}');
    ex.stream.end();
  });

  it('replaces the body when the model is rewritten, with Content-Length set to the new length', async () => {
    const rewritten = Buffer.from('{"model":"rewritten-model-name","prompt":"hello"}');
    const { client } = await serve(rewritesBody('10.0.0.1:8000', () => rewritten));
    const ex = await client.sendBufferedRequest({ bodyChunks: [JSON_BODY], protocolConfig: ANNOUNCED_BUFFERED });
    expect(ex.replacedBody?.equals(rewritten)).toBe(true);
    expect(ex.forwardedBody.equals(rewritten)).toBe(true);
    expect(ex.setHeaders.get('content-length')).toBe(String(rewritten.length));
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    ex.stream.end();
  });

  it('answers a rejection as the immediate response to the body, and ends the stream', async () => {
    const handler = rejectsWith({ status: 400, reason: 'bad-request', message: 'invalid JSON' });
    const { client } = await serve(handler);
    const ex = await client.sendBufferedRequest({ bodyChunks: ['{"model":'], protocolConfig: ANNOUNCED_BUFFERED });
    expect(ex.responses.map((r) => r['response'])).toEqual(['request_headers', 'immediate_response']);
    expect(ex.immediate?.status).toBe(400);
    expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('bad-request');
    expect((await ex.stream.status).code).toBe(grpc.status.OK);
    expect(handler.requests.length).toBe(1);
  });

  it('routes a header-only request in the headers answer', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendBufferedRequest({ endOfStreamOnHeaders: true, path: '/v1/models', protocolConfig: ANNOUNCED_BUFFERED });
    expect(ex.responses.map((r) => r['response'])).toEqual(['request_headers']);
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    expect(ex.setHeaders.has('content-length')).toBe(false);
    expect(handler.lastRequest().body.length).toBe(0);
    ex.stream.end();
  });

  it('routes on the body when trailers follow it, then answers the trailers', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendBufferedRequest({ bodyChunks: [JSON_BODY], trailers: { 'x-t': '1' }, protocolConfig: ANNOUNCED_BUFFERED });
    expect(ex.responses.map((r) => r['response'])).toEqual(['request_headers', 'request_body', 'request_trailers']);
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    expect(bodyToBuffer(handler.lastRequest().body).toString()).toBe(JSON_BODY);
    ex.stream.end();
  });

  it('refuses trailers with no body (their answer cannot carry a route) without calling the handler', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const stream = client.openStream();
    stream.sendRequestHeaders([[':method', 'POST']], false, undefined, ANNOUNCED_BUFFERED);
    expect((await stream.expectNext())['response']).toBe('request_headers');
    stream.sendRequestTrailers({ 'x-t': '1' });
    const answer = await stream.expectNext();
    expect(answer['response']).toBe('immediate_response');
    expect(handler.requests.length).toBe(0);
  });

  it('answers 413 for a buffered body over the limit without calling the handler', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler, { maxRequestBodyBytes: 100 });
    const ex = await client.sendBufferedRequest({ bodyChunks: [Buffer.alloc(120)], protocolConfig: ANNOUNCED_BUFFERED });
    expect(ex.immediate?.status).toBe(413);
    expect(handler.requests.length).toBe(0);
  });

  it('takes a buffered body larger than the default gRPC message limit (answered by the body limit, not by gRPC)', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler, { maxRequestBodyBytes: 20 * 1024 * 1024 });
    const prompt = 'x'.repeat(17 * 1024 * 1024);
    const ex = await client.sendBufferedRequest({ bodyChunks: [`{"model":"m","prompt":"${prompt}"}`], protocolConfig: ANNOUNCED_BUFFERED });
    expect(ex.immediate).toBeUndefined();
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    expect(handler.lastRequest().body.length).toBe(prompt.length + 25);
    ex.stream.end();
  });
});

describe('request body modes that cannot carry a route', () => {
  for (const mode of ['STREAMED', 'BUFFERED_PARTIAL', 'NONE']) {
    it(`answers ${mode} requests with a body 500 unsupported-processing-mode at the headers, handler not called`, async () => {
      const handler = routesToFixedEndpoint('10.0.0.1:8000');
      const { client } = await serve(handler);
      const ex = await client.sendBufferedRequest({
        bodyChunks: [JSON_BODY],
        protocolConfig: { ...(mode === 'NONE' ? {} : { request_body_mode: mode }), response_body_mode: 'STREAMED' },
      });
      expect(ex.responses.map((r) => r['response'])).toEqual(['immediate_response']);
      expect(ex.immediate?.status).toBe(500);
      expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('unsupported-processing-mode');
      expect(ex.immediate?.body).toContain(mode);
      expect(handler.requests.length).toBe(0);
    });
  }

  it('warns once per mode, however many requests come in it', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...noopLogger, warn: (obj: object) => warnings.push(String((obj as { mode?: string }).mode)), child: () => logger };
    const { client } = await serve(routesToFixedEndpoint('10.0.0.1:8000'), { logger });
    for (const mode of ['STREAMED', 'STREAMED', 'STREAMED', 'BUFFERED_PARTIAL', 'BUFFERED_PARTIAL']) {
      const ex = await client.sendBufferedRequest({ bodyChunks: [JSON_BODY], protocolConfig: { request_body_mode: mode } });
      expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('unsupported-processing-mode');
    }
    expect(warnings).toEqual(['STREAMED', 'BUFFERED_PARTIAL']);
  });

  it('still routes header-only requests in STREAMED mode', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendBufferedRequest({
      endOfStreamOnHeaders: true,
      protocolConfig: { request_body_mode: 'STREAMED', response_body_mode: 'STREAMED' },
    });
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    ex.stream.end();
  });
});

describe('response bodies Envoy keeps', () => {
  it('STREAMED: answers each chunk with no body (Envoy forwards its own), the observer still reads every byte', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendBufferedRequest({ bodyChunks: [JSON_BODY], protocolConfig: { request_body_mode: 'BUFFERED', response_body_mode: 'STREAMED' } });
    const sse = ['data: {"a":1}\n\n', 'data: [DONE]\n\n'];
    const res = await ex.stream.sendResponse({ headers: { 'content-type': 'text/event-stream' }, bodyChunks: sse });
    expect(res.responses.map((r) => r['response'])).toEqual(['response_headers', 'response_body', 'response_body']);
    expect(res.responses.slice(1).every((r) => streamedBodyOf(r, 'response_body') === undefined)).toBe(true);
    expect(res.responses.slice(1).every((r) => JSON.stringify(r['response_body']) === '{"response":{}}')).toBe(true);
    const obs = handler.lastObserver();
    expect(await obs.ended).toBe('complete');
    expect(obs.chunks.map((c) => c.toString())).toEqual(sse);
    ex.stream.end();
    expect(obs.ends).toEqual(['complete']);
  });

  it('NONE: the stream closing after the response headers completes the request (once)', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendBufferedRequest({ bodyChunks: [JSON_BODY], protocolConfig: { request_body_mode: 'BUFFERED' } });
    ex.stream.sendResponseHeaders(200, { 'content-type': 'application/json' }, false);
    expect((await ex.stream.expectNext())['response']).toBe('response_headers');
    ex.stream.end();
    const obs = handler.lastObserver();
    expect(await obs.ended).toBe('complete');
    expect((await ex.stream.status).code).toBe(grpc.status.OK);
    expect(obs.ends).toEqual(['complete']);
    expect(handler.lastRequest().signal.aborted).toBe(false);
  });
});
