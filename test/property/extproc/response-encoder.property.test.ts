// The direct ProcessingResponse writer gives exactly the bytes protobufjs's fromObject + encode give (Envoy's protos
// as loaded for the server), for every response shape Fairway sends, and takes the direct path for all of them but
// immediate responses and non-ASCII strings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadExtProcProtos } from '../../../src/extproc/index.js';
import { type StructMessage, type StructValue } from '../../../src/extproc/metadata.js';
import { encodeProcessingResponse, processingResponseSerializer } from '../../../src/extproc/response-encoder.js';
import {
  type HeaderValueOption,
  type ProcessingResponse,
  headerOption,
  rejectResponse,
  routeBodyResponse,
  routeHeadersResponse,
  streamedBodyResponses,
} from '../../../src/extproc/responses.js';

const protobufjs = (value: unknown): Buffer => loadExtProcProtos().processMethod.responseSerialize(value as object);

const asciiUnitArb = fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c));
const asciiArb = fc.string({ unit: asciiUnitArb, maxLength: 40 });
// Non-ASCII includes lone surrogates, which protobufjs and Node write differently: those must go to protobufjs.
const anyStringArb = fc.string({ unit: fc.oneof(fc.constantFrom('é', '\u{1F600}', '\uD800', '\uDC00', '中'), asciiUnitArb), maxLength: 12 });
const textArb = fc.oneof({ weight: 4, arbitrary: asciiArb }, { weight: 1, arbitrary: anyStringArb });
/** Lengths across the one-, two- and three-byte length prefixes (127/128, 16383/16384). */
const bytesArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.constantFrom(0, 127, 128, 16_383, 16_384, 70_000).map((n) => Buffer.alloc(n, 0x61)) },
);

const optionArb: fc.Arbitrary<HeaderValueOption> = fc.record({
  header: fc.record({ key: textArb, raw_value: bytesArb }),
  append_action: fc.constantFrom('OVERWRITE_IF_EXISTS_OR_ADD' as const, 'ADD_IF_ABSENT' as const),
});

const { value: valueArb } = fc.letrec<{ value: StructValue; struct: StructMessage }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ stringValue: textArb }),
    fc.record({ structValue: tie('struct') }),
    fc.record({ listValue: fc.record({ values: fc.array(tie('value'), { maxLength: 3 }) }) }),
  ),
  struct: fc.dictionary(textArb, tie('value'), { maxKeys: 3 }).map((fields) => ({ fields })),
}));
const structArb = fc.dictionary(textArb, valueArb, { maxKeys: 3 }).map((fields): StructMessage => ({ fields }));

const commonArb = fc.record(
  {
    clear_route_cache: fc.boolean(),
    header_mutation: fc.record({ set_headers: fc.array(optionArb, { maxLength: 5 }) }),
    body_mutation: fc.oneof(
      fc.record({ streamed_response: fc.record({ body: bytesArb, end_of_stream: fc.boolean() }) }),
      fc.record({ body: bytesArb }),
    ),
  },
  { requiredKeys: [] },
);

const responseArb: fc.Arbitrary<ProcessingResponse> = fc.oneof(
  fc.record({ request_headers: fc.record({ response: commonArb }), dynamic_metadata: structArb }, { requiredKeys: ['request_headers'] }),
  fc.record({ request_body: fc.record({ response: commonArb }), dynamic_metadata: structArb }, { requiredKeys: ['request_body'] }),
  fc.record({ response_headers: fc.record({ response: commonArb }) }),
  fc.record({ response_body: fc.record({ response: commonArb }) }),
  fc.constant({ request_trailers: {} }),
  fc.constant({ response_trailers: {} }),
  fc
    .record({ status: fc.constantFrom(400, 429, 503), reason: asciiArb, message: textArb })
    .map(({ status, reason, message }) => rejectResponse({ kind: 'reject', status, reason, message }, 'req-1')),
);

function isAscii(value: unknown): boolean {
  if (typeof value === 'string') return [...value].every((c) => c.charCodeAt(0) <= 0x7f);
  if (Buffer.isBuffer(value) || value === null || typeof value !== 'object') return true;
  return Object.entries(value).every(([k, v]) => isAscii(k) && isAscii(v));
}

describe('ProcessingResponse writer (property)', () => {
  const serialize = processingResponseSerializer(protobufjs);

  it('writes the same bytes as protobufjs fromObject + encode for every response shape', () => {
    fc.assert(
      fc.property(responseArb, (response) => {
        expect(serialize(response).equals(protobufjs(response))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('takes the direct path for every shape but immediate responses and non-ASCII strings', () => {
    fc.assert(
      fc.property(responseArb, (response) => {
        const direct = encodeProcessingResponse(response);
        expect(direct !== undefined).toBe(!('immediate_response' in response) && isAscii(response));
      }),
      { numRuns: 400 },
    );
  });

  it('writes the builders’ own answers (route, BUFFERED route with a replacement, streamed chunks) as protobufjs does', () => {
    fc.assert(
      fc.property(
        fc.array(asciiArb, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(asciiArb, textArb), { maxLength: 3 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.option(asciiArb, { nil: undefined }),
        fc.array(bytesArb, { maxLength: 3 }),
        fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constant(62_000)),
        fc.boolean(),
        (endpoints, headers, bodyLength, generatedRequestId, chunks, chunkBytes, endOfStream) => {
          const input = { endpoints, setHeaders: new Map(headers), bodyLength, generatedRequestId };
          const answers: ProcessingResponse[] = [
            routeHeadersResponse(input),
            routeBodyResponse({ ...input, replacement: chunks[0] ?? Buffer.alloc(0) }),
            ...streamedBodyResponses('request_body', chunks, chunkBytes, endOfStream),
            ...streamedBodyResponses('response_body', chunks, chunkBytes, endOfStream),
          ];
          for (const answer of answers) expect(serialize(answer).equals(protobufjs(answer))).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('ProcessingResponse writer', () => {
  it('writes a header option with its append action (ADD_IF_ABSENT = 1) as Envoy numbers it', () => {
    const bytes = encodeProcessingResponse({
      response_headers: { response: { header_mutation: { set_headers: [headerOption('x-request-id', 'r', 'ADD_IF_ABSENT')] } } },
    });
    // response_headers(2) > response(1) > header_mutation(2) > set_headers(1) > header(1){key(1), raw_value(3)}, append_action(3) = 1
    expect(bytes?.toString('hex')).toBe(
      Buffer.from([0x12, 0x1b, 0x0a, 0x19, 0x12, 0x17, 0x0a, 0x15, 0x0a, 0x11, 0x0a, 0x0c, ...Buffer.from('x-request-id'), 0x1a, 0x01, 0x72, 0x18, 0x01]).toString('hex'),
    );
  });
});
