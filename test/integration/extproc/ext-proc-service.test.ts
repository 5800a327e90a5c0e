// The ext_proc service driven exactly as Envoy drives it (real gRPC on loopback, FULL_DUPLEX_STREAMED).
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { bodyToBuffer } from '../../../src/gateway/index.js';
import { useExtProcService } from '../../support/ext-proc-fixture.js';
import {
  rejectsWith,
  rewritesBody,
  routesToFixedEndpoint,
  throwsError,
  waitsUntilAborted,
} from '../../support/fake-request-handlers.js';

const JSON_BODY = JSON.stringify({ model: 'm', prompt: 'hello' });

const serve = useExtProcService();

describe('ExtProcService request path', () => {
  it('routes a chunked body: header, identical metadata, Content-Length, body back unchanged', async () => {
    const handler = routesToFixedEndpoint(['10.0.0.1:8000', '10.0.0.2:8000'], { setHeaders: { 'x-extra': 'yes' } });
    const { client } = await serve(handler);
    const body = Buffer.from(JSON_BODY);
    const ex = await client.sendRequest({
      headers: { 'x-request-id': 'req-1', 'x-gateway-inference-objective': 'chat' },
      bodyChunks: [body.subarray(0, 5), body.subarray(5, 11), body.subarray(11)],
    });
    expect(ex.immediate).toBeUndefined();
    expect(ex.clearRouteCache).toBe(true);
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000,10.0.0.2:8000');
    expect(ex.metadataDestination).toBe('10.0.0.1:8000,10.0.0.2:8000');
    expect(ex.setHeaders.get('content-length')).toBe(String(body.length));
    expect(ex.setHeaders.get('x-extra')).toBe('yes');
    expect(ex.setHeaders.has('x-request-id')).toBe(false); // given by the client, not generated
    expect(ex.body.equals(body)).toBe(true);
    expect(ex.bodyChunks.at(-1)?.endOfStream).toBe(true);
    const req = handler.lastRequest();
    expect(req.requestId).toBe('req-1');
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/completions');
    expect(req.headers.get('x-gateway-inference-objective')).toBe('chat');
    expect(req.headers.has(':path')).toBe(false);
    expect(bodyToBuffer(req.body).equals(body)).toBe(true);
    expect(req.subsetHint).toBeUndefined();
    ex.stream.end();
  });

  it('returns a large body as the chunks it received, in order, with identical bytes (no concatenation)', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const body = Buffer.alloc(400_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const chunks: Buffer[] = [];
    for (let o = 0; o < body.length; o += 16_384) chunks.push(body.subarray(o, o + 16_384));
    const ex = await client.sendRequest({ bodyChunks: chunks });
    expect(ex.bodyChunks.map((c) => c.body.length)).toEqual(chunks.map((c) => c.length));
    expect(ex.bodyChunks.slice(0, -1).every((c) => !c.endOfStream)).toBe(true);
    expect(ex.bodyChunks.at(-1)?.endOfStream).toBe(true);
    expect(ex.body.equals(body)).toBe(true);
    expect(ex.setHeaders.get('content-length')).toBe('400000');
    ex.stream.end();
  });

  it('returns the bodies of concurrent streams byte for byte (answers are serialized into one reused buffer, which gRPC must copy at once)', async () => {
    const { client } = await serve(routesToFixedEndpoint('10.0.0.1:8000'));
    const bodies = Array.from({ length: 6 }, (_, s) => {
      const body = Buffer.alloc(150_000 + s * 7_001);
      for (let i = 0; i < body.length; i++) body[i] = (i * (s + 3) + s) & 0xff;
      return body;
    });
    const exchanges = await Promise.all(
      bodies.map((body) => {
        const chunks: Buffer[] = [];
        for (let o = 0; o < body.length; o += 65_536) chunks.push(body.subarray(o, o + 65_536));
        return client.sendRequest({ bodyChunks: chunks });
      }),
    );
    exchanges.forEach((ex, s) => {
      expect(ex.body.equals(bodies[s] as Buffer)).toBe(true);
      expect(ex.setHeaders.get('content-length')).toBe(String((bodies[s] as Buffer).length));
      ex.stream.end();
    });
  });

  it('accepts a body in one chunk and honours a custom chunk size', async () => {
    const { client } = await serve(routesToFixedEndpoint('10.0.0.1:8000'), { bodyChunkBytes: 10 });
    const ex = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    expect(ex.bodyChunks.length).toBe(Math.ceil(JSON_BODY.length / 10));
    expect(ex.body.toString()).toBe(JSON_BODY);
    ex.stream.end();
  });

  it('answers an empty body with Content-Length 0 and one empty end_of_stream chunk', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendRequest({ bodyChunks: [Buffer.alloc(0)] });
    expect(ex.setHeaders.get('content-length')).toBe('0');
    expect(ex.bodyChunks).toEqual([{ body: Buffer.alloc(0), endOfStream: true }]);
    expect(handler.lastRequest().body.length).toBe(0);
    ex.stream.end();
  });

  it('answers a header-only request at once, with no body answers and no Content-Length', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendRequest({ endOfStreamOnHeaders: true, path: '/v1/models' });
    expect(ex.responses.length).toBe(1);
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    expect(ex.setHeaders.has('content-length')).toBe(false);
    expect(handler.lastRequest().method).toBe('GET');
    expect(handler.lastRequest().body.length).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(ex.stream.pending()).toBe(0);
    ex.stream.end();
  });

  it('handles request trailers: body answered without end_of_stream, then the trailers answer', async () => {
    const { client } = await serve(routesToFixedEndpoint('10.0.0.1:8000'));
    const ex = await client.sendRequest({ bodyChunks: ['{"model":', '"m"}'], trailers: { 'x-t': '1' } });
    const kinds = ex.responses.map((r) => r['response']);
    expect(kinds).toEqual(['request_headers', 'request_body', 'request_body', 'request_trailers']);
    expect(ex.bodyChunks.at(-1)?.endOfStream).toBe(false);
    expect(ex.body.toString()).toBe('{"model":"m"}');
    ex.stream.end();
  });

  it('passes the handler IPv6 formatting through untouched', async () => {
    const { client } = await serve(routesToFixedEndpoint(['[fd00::1]:8000', '10.0.0.2:8000']));
    const ex = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('[fd00::1]:8000,10.0.0.2:8000');
    expect(ex.metadataDestination).toBe('[fd00::1]:8000,10.0.0.2:8000');
    ex.stream.end();
  });

  it('streams a rewritten body and sets Content-Length to its new length', async () => {
    const { client } = await serve(rewritesBody('10.0.0.1:8000', () => Buffer.from('{"model":"rewritten-model-name"}')));
    const ex = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    expect(ex.body.toString()).toBe('{"model":"rewritten-model-name"}');
    expect(ex.setHeaders.get('content-length')).toBe('32');
    ex.stream.end();
  });

  it('reads the subset hint from filter metadata (list of strings)', async () => {
    const handler = routesToFixedEndpoint('10.0.0.2:8000');
    const { client } = await serve(handler);
    const ex = await client.sendRequest({
      bodyChunks: [JSON_BODY],
      metadata: {
        'envoy.lb.subset_hint': { 'x-gateway-destination-endpoint-subset': ['10.0.0.1:8000', '10.0.0.2:8000'] },
      },
    });
    expect(handler.lastRequest().subsetHint).toEqual(['10.0.0.1:8000', '10.0.0.2:8000']);
    ex.stream.end();
  });

  it('passes an empty subset hint as an empty list (the handler then refuses)', async () => {
    const handler = routesToFixedEndpoint('10.0.0.2:8000');
    const { client } = await serve(handler);
    const ex = await client.sendRequest({
      bodyChunks: [JSON_BODY],
      metadata: { 'envoy.lb.subset_hint': { 'x-gateway-destination-endpoint-subset': [] } },
    });
    expect(handler.lastRequest().subsetHint).toEqual([]);
    ex.stream.end();
  });

  it('generates x-request-id when absent and forwards it upstream', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    const id = handler.lastRequest().requestId;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ex.setHeaders.get('x-request-id')).toBe(id);
    ex.stream.end();
  });

  it('rejects as an immediate response with status, drop reason, Retry-After and the proxy\'s JSON error body; the stream ends OK', async () => {
    const { client } = await serve(
      rejectsWith({ status: 429, reason: 'capacity', message: 'band 0 full', retryAfterSeconds: 2 }),
    );
    const ex = await client.sendRequest({ headers: { 'x-request-id': 'r-429' }, bodyChunks: [JSON_BODY] });
    expect(ex.immediate).toBeDefined();
    expect(ex.immediate?.status).toBe(429);
    expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('capacity');
    expect(ex.immediate?.headers.get('retry-after')).toBe('2');
    expect(ex.immediate?.headers.get('x-request-id')).toBe('r-429');
    expect(ex.immediate?.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(ex.immediate?.body ?? '')).toEqual({ error: { message: 'band 0 full', type: 'rate_limit_error', code: 'capacity' } });
    expect((await ex.stream.status).code).toBe(grpc.status.OK);
  });

  it('omits Retry-After when the decision has none (400)', async () => {
    const { client } = await serve(rejectsWith({ status: 400, reason: 'bad-request', message: 'model missing' }));
    const ex = await client.sendRequest({ bodyChunks: ['{}'] });
    expect(ex.immediate?.status).toBe(400);
    expect(ex.immediate?.headers.has('retry-after')).toBe(false);
  });

  it('answers 413 for a body over the limit without calling the handler', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler, { maxRequestBodyBytes: 100 });
    const ex = await client.sendRequest({ bodyChunks: [Buffer.alloc(60), Buffer.alloc(60)] });
    expect(ex.immediate?.status).toBe(413);
    expect(ex.immediate?.headers.get('x-fairway-drop-reason')).toBe('body-too-large');
    expect(handler.requests.length).toBe(0);
  });

  it('aborts the signal at once when the client cancels while the handler waits', async () => {
    const handler = waitsUntilAborted('reject');
    const { client, service } = await serve(handler);
    const stream = client.openStream();
    stream.sendRequestHeaders([[':method', 'POST'], [':path', '/v1/completions']], false);
    stream.sendRequestBody(JSON_BODY, true);
    const req = await handler.started;
    expect(req.signal.aborted).toBe(false);
    stream.cancel();
    await handler.aborted;
    expect(req.signal.aborted).toBe(true);
    await expect.poll(() => service.activeStreams).toBe(0);
  });

  it('ends a late route decision with onEnd("aborted") when the stream is already gone', async () => {
    const handler = waitsUntilAborted('route');
    const { client } = await serve(handler);
    const stream = client.openStream();
    stream.sendRequestHeaders([[':method', 'POST']], false);
    stream.sendRequestBody(JSON_BODY, true);
    await handler.started;
    stream.end(); // Envoy half-closes: the request is over
    expect(await handler.lastObserver().ended).toBe('aborted');
    expect(handler.lastObserver().ends).toEqual(['aborted']);
  });

  it('fails the stream with INTERNAL when the handler throws', async () => {
    const { client } = await serve(throwsError());
    const stream = client.openStream();
    stream.sendRequestHeaders([[':method', 'POST']], false);
    stream.sendRequestBody(JSON_BODY, true);
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.INTERNAL);
  });
});

describe('ExtProcService response path', () => {
  it('passes SSE chunks through in order, reports them to the observer, and ends once with complete', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendRequest({ headers: { 'x-request-id': 'sse-1' }, bodyChunks: [JSON_BODY] });
    const sse = ['data: {"a":1}\n\n', 'data: {"a":2}\n\n', 'data: {"usage":{"prompt_tokens":3}}\n\ndata: [DONE]\n\n'];
    const res = await ex.stream.sendResponse({
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      bodyChunks: sse,
      metadata: { 'envoy.lb': { 'x-gateway-destination-endpoint-served': '10.0.0.1:8000' } },
    });
    expect(res.responses.map((r) => r['response'])).toEqual(['response_headers', 'response_body', 'response_body', 'response_body']);
    expect(res.setHeaders.get('x-request-id')).toBe('sse-1');
    expect(res.bodyChunks.map((c) => c.body.toString())).toEqual(sse);
    expect(res.bodyChunks.map((c) => c.endOfStream)).toEqual([false, false, true]);
    const obs = handler.lastObserver();
    expect(await obs.ended).toBe('complete');
    expect(obs.status).toBe(200);
    expect(obs.headers?.get('content-type')).toBe('text/event-stream');
    expect(obs.headers?.has(':status')).toBe(false);
    expect(obs.served).toBe('10.0.0.1:8000');
    expect(obs.chunks.map((c) => c.toString())).toEqual(sse);
    expect(obs.events).toEqual(['served', 'headers', 'body', 'body', 'body', 'end:complete']);
    ex.stream.end();
    expect((await ex.stream.status).code).toBe(grpc.status.OK);
    expect(obs.ends).toEqual(['complete']);
  });

  it('completes on response trailers and on a header-only response', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const a = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    const res = await a.stream.sendResponse({ bodyChunks: ['{"x":1}'], trailers: { 'grpc-status': '0' } });
    expect(res.responses.map((r) => r['response'])).toEqual(['response_headers', 'response_body', 'response_trailers']);
    expect(await handler.observers[0]!.ended).toBe('complete');
    a.stream.end();

    const b = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    await b.stream.sendResponse({ status: 204 });
    expect(await handler.observers[1]!.ended).toBe('complete');
    expect(handler.observers[1]!.status).toBe(204);
    b.stream.end();
  });

  it('ends the observer with aborted when the stream is cancelled mid-response', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    ex.stream.sendResponseHeaders(200, { 'content-type': 'text/event-stream' }, false);
    await ex.stream.expectNext();
    ex.stream.sendResponseBody('data: 1\n\n', false);
    await ex.stream.expectNext();
    ex.stream.cancel();
    const obs = handler.lastObserver();
    expect(await obs.ended).toBe('aborted');
    expect(handler.lastRequest().signal.aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(obs.ends).toEqual(['aborted']);
  });

  it('ends the observer with aborted when Envoy closes the stream before any response', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const ex = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    ex.stream.end();
    expect(await handler.lastObserver().ended).toBe('aborted');
    expect((await ex.stream.status).code).toBe(grpc.status.OK);
  });
});

describe('ExtProcService protocol violations', () => {
  it('fails with a clear gRPC error and never crashes', async () => {
    const handler = routesToFixedEndpoint('10.0.0.1:8000');
    const { client } = await serve(handler);
    const cases: [string, (s: ReturnType<typeof client.openStream>) => void, grpc.status][] = [
      ['body before headers', (s) => s.sendRequestBody('x', true), grpc.status.FAILED_PRECONDITION],
      ['empty message', (s) => s.send({}), grpc.status.INVALID_ARGUMENT],
      [
        'headers twice',
        (s) => {
          s.sendRequestHeaders({}, false);
          s.sendRequestHeaders({}, false);
        },
        grpc.status.FAILED_PRECONDITION,
      ],
      [
        'response before route',
        (s) => {
          s.sendRequestHeaders({}, false);
          s.sendResponseHeaders(200, {}, true);
        },
        grpc.status.FAILED_PRECONDITION,
      ],
    ];
    for (const [name, act, code] of cases) {
      const s = client.openStream();
      act(s);
      const status = await s.status;
      expect({ name, code: status.code }).toEqual({ name, code });
      expect(status.details.length).toBeGreaterThan(0);
    }
    // The service still works afterwards.
    const ok = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    expect(ok.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    ok.stream.end();
  });

  it('survives undecodable bytes on the wire', async () => {
    const { client } = await serve(routesToFixedEndpoint('10.0.0.1:8000'));
    const raw = new grpc.Client(
      (client as unknown as { client: grpc.Client }).client.getChannel().getTarget().replace(/^dns:/, ''),
      grpc.credentials.createInsecure(),
    );
    const call = raw.makeBidiStreamRequest<Buffer, Buffer>(
      '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
      (b) => b,
      (b) => b,
    );
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    call.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect((await status).code).not.toBe(grpc.status.OK);
    raw.close();
    const ok = await client.sendRequest({ bodyChunks: [JSON_BODY] });
    expect(ok.immediate).toBeUndefined();
    ok.stream.end();
  });
});
