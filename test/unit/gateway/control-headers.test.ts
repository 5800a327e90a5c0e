import { describe, expect, it } from 'vitest';
import { MAX_HEADER_MS, readControlHeaders } from '../../../src/gateway/index.js';

const TTL = 'x-fairway-request-ttl-ms';
const SLO = 'x-fairway-ttft-slo-ms';
const read = (h: Record<string, string>, identity: string[] = []) => readControlHeaders(new Map(Object.entries(h)), identity);

describe('readControlHeaders', () => {
  it('reads plain decimal milliseconds in (0, 2^31-1], and an absent or empty header as absent', () => {
    expect(read({ [TTL]: '1500', [SLO]: ' 250.5 ' })).toEqual({ ok: true, values: { ttlMs: 1500, ttftSloMs: 250.5 } });
    expect(read({ [TTL]: String(MAX_HEADER_MS) })).toMatchObject({ ok: true, values: { ttlMs: MAX_HEADER_MS } });
    expect(read({})).toEqual({ ok: true, values: { ttlMs: undefined, ttftSloMs: undefined } });
    expect(read({ [TTL]: '', [SLO]: '  ' })).toEqual({ ok: true, values: { ttlMs: undefined, ttftSloMs: undefined } });
  });

  it.each(['abc', '-1', '0', '1e400', '1e3', '0x10', 'Infinity', 'NaN', '12ms', String(MAX_HEADER_MS + 1), '1.', '+5'])(
    'refuses %j naming the header and the accepted range',
    (raw) => {
      for (const name of [TTL, SLO]) {
        const r = read({ [name]: raw });
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.header).toBe(name);
          expect(r.message).toContain(name);
          expect(r.message).toContain(`(0, ${MAX_HEADER_MS}]`);
        }
      }
    },
  );

  it('refuses an identity header longer than 256 characters, only among the headers identity is read from', () => {
    const id = 'x-gateway-inference-fairness-id';
    expect(read({ [id]: 't'.repeat(256) }, [id]).ok).toBe(true);
    const long = read({ [id]: 't'.repeat(257) }, [id]);
    expect(long).toMatchObject({ ok: false, header: id });
    expect(!long.ok && long.message).toMatch(/at most 256 characters, got 257/);
    expect(read({ [id]: 't'.repeat(257) }, []).ok).toBe(true);
  });
});
