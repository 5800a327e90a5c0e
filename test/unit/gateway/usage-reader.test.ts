import { describe, expect, it } from 'vitest';
import { UsageReader } from '../../../src/gateway/index.js';

function read(chunks: string[], contentType = 'application/json', tail?: number) {
  const r = new UsageReader(tail);
  r.onHeaders(new Map([['content-type', contentType]]));
  for (const c of chunks) r.onBody(Buffer.from(c));
  return r.usage();
}

describe('UsageReader', () => {
  it('reads usage from a JSON body, split anywhere', () => {
    const body = JSON.stringify({ choices: [{ text: 'hi' }], usage: { prompt_tokens: 12, completion_tokens: 3 } });
    expect(read([body.slice(0, 7), body.slice(7)])).toEqual({ promptTokens: 12, outputTokens: 3 });
  });

  it('reads the usage chunk of an SSE stream', () => {
    expect(
      read(['data: {"choices":[{"text":"a"}]}\n\n', 'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\ndata: [DONE]\n\n'], 'text/event-stream'),
    ).toEqual({ promptTokens: 5, outputTokens: 2 });
  });

  it('reads usage at the end of a JSON body larger than its tail buffer', () => {
    const big = JSON.stringify({
      data: Array.from({ length: 2_000 }, (_, i) => ({ embedding: [0.1, 0.2, 0.3], index: i, note: 'a "quoted" {brace}' })),
      usage: { prompt_tokens: 4_000, total_tokens: 4_000, completion_tokens: 0 },
    });
    expect(big.length).toBeGreaterThan(64 * 1024);
    const chunks = big.match(/.{1,1000}/gs) ?? [];
    expect(read(chunks)).toEqual({ promptTokens: 4_000, outputTokens: 0 });
  });

  it('reports nothing for bodies without usage or with nonsense usage', () => {
    expect(read(['{"choices":[]}'])).toBeUndefined();
    expect(read(['{"usage":{"prompt_tokens":-1,"completion_tokens":2}}'])).toBeUndefined();
    expect(read(['not json'])).toBeUndefined();
  });
});
