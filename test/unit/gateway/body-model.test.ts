import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findBodyModel, replaceBodyModel } from '../../../src/gateway/index.js';

const rewrite = (s: string, m: string) => replaceBodyModel(Buffer.from(s), m)?.toString('utf8');

describe('replaceBodyModel', () => {
  it('changes only the bytes of the top-level model value', () => {
    const body = '{ "prompt" : "x", "max_tokens":1.50e2,"model" :"llama" ,"extra":{"model":"inner"}}';
    expect(rewrite(body, 'llama-v2')).toBe('{ "prompt" : "x", "max_tokens":1.50e2,"model" :"llama-v2" ,"extra":{"model":"inner"}}');
  });

  it('takes the last of duplicate keys (as JSON.parse and the model server do) and escaped key spellings', () => {
    expect(rewrite('{"model":"a","model":"b"}', 'c')).toBe('{"model":"a","model":"c"}');
    expect(rewrite('{"mod\\u0065l":"a"}', 'c')).toBe('{"mod\\u0065l":"c"}');
    expect(rewrite('{"messages":[{"content":"he said \\"model\\": x"}],"model":"a"}', 'b')).toBe(
      '{"messages":[{"content":"he said \\"model\\": x"}],"model":"b"}',
    );
  });

  it('escapes the new name as JSON and finds nothing in bodies without a non-empty string model or not valid JSON', () => {
    expect(JSON.parse(rewrite('{"model":"a"}', 'we"ird/näme')!)).toEqual({ model: 'we"ird/näme' });
    expect(findBodyModel(Buffer.from('{"model":3}'))).toBeUndefined();
    expect(findBodyModel(Buffer.from('[{"model":"a"}]'))).toBeUndefined();
    expect(findBodyModel(Buffer.from('{"model":""}'))).toBeUndefined();
    expect(findBodyModel(Buffer.from('{"model":"a"}'))).toEqual({ start: 9, end: 12 });
    expect(findBodyModel(Buffer.from('{"model":"a"'))).toBeUndefined(); // the object never closes
    expect(findBodyModel(Buffer.from('{"model":"unterminated'))).toBeUndefined();
  });

  it('yields the parsed object with only the model changed, for any JSON object (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string({ minLength: 1 }), fc.string(), (obj, original, target) => {
        const body = Buffer.from(JSON.stringify({ ...obj, model: original }, null, 1));
        const out = replaceBodyModel(body, target);
        expect(out).toBeDefined();
        expect(JSON.parse(out!.toString('utf8'))).toEqual(JSON.parse(JSON.stringify({ ...obj, model: target })));
      }),
      { numRuns: 300 },
    );
  });
});
