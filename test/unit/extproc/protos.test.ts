import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { addStreamedBodyResponse, loadExtProcProtos } from '../../../src/extproc/index.js';

describe('loadExtProcProtos', () => {
  it('adds BodyMutation.streamed_response as field 3 (wire tag 0x1a) of the mutation oneof', () => {
    const { processMethod } = loadExtProcProtos();
    const bytes = processMethod.responseSerialize({
      request_body: { response: { body_mutation: { streamed_response: { body: Buffer.from('ab'), end_of_stream: true } } } },
    });
    // ProcessingResponse.request_body(3) > BodyResponse.response(1) > CommonResponse.body_mutation(3) > field 3
    expect(bytes.includes(Buffer.from([0x1a, 0x06, 0x0a, 0x02, 0x61, 0x62, 0x10, 0x01]))).toBe(true);
    const back = processMethod.responseDeserialize(bytes) as {
      request_body: { response: { body_mutation: { mutation: string; streamed_response: { body: Buffer } } } };
    };
    expect(back.request_body.response.body_mutation.mutation).toBe('streamed_response');
    expect(back.request_body.response.body_mutation.streamed_response.body.toString()).toBe('ab');
  });

  it('keeps snake_case for Envoy fields and camelCase for google.protobuf.Struct/Value', () => {
    const { processMethod } = loadExtProcProtos();
    const bytes = processMethod.responseSerialize({
      request_headers: { response: { clear_route_cache: true } },
      dynamic_metadata: { fields: { 'envoy.lb': { structValue: { fields: { k: { stringValue: 'v' } } } } } },
    });
    const back = processMethod.responseDeserialize(bytes) as Record<string, unknown>;
    expect(back).toMatchObject({
      response: 'request_headers',
      request_headers: { response: { clear_route_cache: true } },
      dynamic_metadata: { fields: { 'envoy.lb': { structValue: { fields: { k: { stringValue: 'v' } } } } } },
    });
  });

  it('adds ProcessingRequest.protocol_config (field 11) with the BUFFERED and FULL_DUPLEX_STREAMED body modes', () => {
    const { processMethod } = loadExtProcProtos();
    const bytes = processMethod.requestSerialize({
      request_headers: { end_of_stream: false },
      protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'FULL_DUPLEX_STREAMED' },
    });
    // ProcessingRequest.protocol_config(11, wire tag 0x5a) > request_body_mode(1) = 2, response_body_mode(2) = 4
    expect(bytes.includes(Buffer.from([0x5a, 0x04, 0x08, 0x02, 0x10, 0x04]))).toBe(true);
    expect(processMethod.requestDeserialize(bytes)).toMatchObject({
      protocol_config: { request_body_mode: 'BUFFERED', response_body_mode: 'FULL_DUPLEX_STREAMED' },
    });
  });

  it('loads once and returns the same definition', () => {
    expect(loadExtProcProtos()).toBe(loadExtProcProtos());
  });

  it('addStreamedBodyResponse is idempotent', () => {
    const root = protobuf.Root.fromJSON({
      nested: {
        envoy: {
          nested: {
            service: {
              nested: {
                ext_proc: {
                  nested: {
                    v3: {
                      nested: {
                        BodyMutation: {
                          oneofs: { mutation: { oneof: ['body'] } },
                          fields: { body: { type: 'bytes', id: 1 } },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    });
    addStreamedBodyResponse(root);
    addStreamedBodyResponse(root);
    const bm = root.lookupType('envoy.service.ext_proc.v3.BodyMutation');
    expect(bm.fields['streamed_response']?.id).toBe(3);
    expect(bm.oneofs['mutation']?.oneof).toEqual(['body', 'streamed_response']);
  });
});
