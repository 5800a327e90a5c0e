// The baseline: a bare ext_proc server that only speaks the protocol: it gathers the body, parses the JSON once
// (reading `model`, as any body-based router must), answers a fixed route and streams the body back (BUFFERED, when
// the stream's protocol_config asks for it: the route in the body's answer, no body back). No state machine,
// handler, validation or observer. What our service is measured against: as a new user writes it (grpc-js defaults,
// so Node's 64 KiB HTTP/2 windows), or with `windowBytes` given the same HTTP/2 windows as ours.
import * as grpc from '@grpc/grpc-js';
import { applyHttp2Windows, loadExtProcProtos, windowsForStream } from '../../src/extproc/index.js';

const DESTINATION = '10.0.0.1:8000';
const CHUNK = 62_000;

interface Msg {
  request?: string;
  request_headers?: { end_of_stream?: boolean };
  request_body?: { body?: Buffer; end_of_stream?: boolean };
  response_body?: { body?: Buffer; end_of_stream?: boolean };
  protocol_config?: { request_body_mode?: string };
}

export async function startBareExtProcServer(port = 0, windowBytes?: number): Promise<{ port: number; close: () => void }> {
  const { processMethod } = loadExtProcProtos();
  const server = new grpc.Server();
  server.addService({ Process: processMethod as grpc.MethodDefinition<unknown, unknown> }, {
    Process: (call: grpc.ServerDuplexStream<Msg, object>) => {
      const chunks: Buffer[] = [];
      let buffered = false;
      call.on('data', (m: Msg) => {
        switch (m.request) {
          case 'request_headers':
            buffered = m.protocol_config?.request_body_mode === 'BUFFERED';
            if (m.request_headers?.end_of_stream === true) call.write(route(0, 'request_headers'));
            else if (buffered) call.write({ request_headers: { response: {} } });
            return;
          case 'request_body': {
            if (m.request_body?.body !== undefined) chunks.push(m.request_body.body);
            if (m.request_body?.end_of_stream !== true) return;
            const body = Buffer.concat(chunks);
            chunks.length = 0;
            const parsed = JSON.parse(body.toString('utf8')) as { model?: unknown };
            if (typeof parsed.model !== 'string') throw new Error('no model');
            if (buffered) {
              call.write(route(body.length, 'request_body'));
              return;
            }
            call.write(route(body.length, 'request_headers'));
            for (let o = 0; o === 0 || o < body.length; o += CHUNK) {
              const end = Math.min(body.length, o + CHUNK);
              call.write({ request_body: { response: { body_mutation: { streamed_response: { body: body.subarray(o, end), end_of_stream: end === body.length } } } } });
              if (end === body.length) break;
            }
            return;
          }
          case 'response_headers':
            call.write({ response_headers: { response: {} } });
            return;
          case 'response_body':
            call.write({ response_body: { response: { body_mutation: { streamed_response: m.response_body } } } });
            return;
          default:
            call.write({ [`${m.request ?? 'request_trailers'}`]: {} });
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))),
  );
  if (windowBytes !== undefined && !applyHttp2Windows(server, windowsForStream(windowBytes))) {
    throw new Error('cannot reach the http2 servers of this grpc-js');
  }
  return { port: bound, close: () => server.forceShutdown() };
}

function route(length: number, phase: 'request_headers' | 'request_body'): object {
  const h = (key: string, value: string) => ({ header: { key, raw_value: Buffer.from(value) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  return {
    [phase]: {
      response: { clear_route_cache: true, header_mutation: { set_headers: [h('x-gateway-destination-endpoint', DESTINATION), h('content-length', String(length))] } },
    },
    dynamic_metadata: { fields: { 'envoy.lb': { structValue: { fields: { 'x-gateway-destination-endpoint': { stringValue: DESTINATION } } } } } },
  };
}
