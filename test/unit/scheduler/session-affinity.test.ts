// Session affinity: a token names the endpoint that served the last turn; the scorer prefers it while it is
// fresh and has headroom, and a token we could not have issued names nothing.
import { describe, expect, it } from 'vitest';
import { type EndpointSaturationView } from '../../../src/datalayer/index.js';
import { SessionAffinityScorer, buildProfile, decodeSessionToken, encodeSessionToken } from '../../../src/scheduler/index.js';
import { context, endpoint, scoresOf } from './support.js';

const a = endpoint('10.0.0.1:8000');
const b = endpoint('10.0.0.2:8000');
const c = endpoint('[fd00::3]:8000');

const withToken = (id: string, header = 'x-session-token'): ReturnType<typeof context> =>
  context({ headers: new Map([[header, encodeSessionToken(id)]]) });

describe('session tokens', () => {
  it('round-trip every endpoint id, IPv6 included', () => {
    for (const e of [a, b, c]) expect(decodeSessionToken(encodeSessionToken(e.id))).toBe(e.id);
  });

  it.each([undefined, '', '***', 'not base64!', 'A'.repeat(600), Buffer.from([0xff, 0xfe]).toString('base64')])('%j names no endpoint', (token) => {
    expect(decodeSessionToken(token)).toBeUndefined();
  });
});

describe('session-affinity-scorer', () => {
  it('scores 1 for the endpoint the token names and 0 for the others', () => {
    expect(scoresOf(new SessionAffinityScorer(), [a, b, c], withToken(b.id))).toEqual([0, 1, 0]);
  });

  it('scores 0 everywhere without a token, with a token naming no candidate, or with a token in another header', () => {
    const s = new SessionAffinityScorer();
    expect(scoresOf(s, [a, b], context())).toEqual([0, 0]);
    expect(scoresOf(s, [a, b], withToken('10.9.9.9:1'))).toEqual([0, 0]);
    expect(scoresOf(s, [a, b], withToken(a.id, 'x-other'))).toEqual([0, 0]);
    expect(scoresOf(new SessionAffinityScorer({ header: 'X-Conversation' }), [a, b], withToken(a.id, 'x-conversation'))).toEqual([1, 0]);
  });

  it('lets the session move off an endpoint that is stale or has no headroom', () => {
    const stale = endpoint(a.id, {}, true);
    expect(scoresOf(new SessionAffinityScorer(), [stale, b], withToken(a.id))).toEqual([0, 0]);
    const saturation: EndpointSaturationView = { endpointSaturation: (id) => (id === a.id ? 1.2 : 0.3) };
    const ctx = { ...withToken(a.id), saturation };
    expect(scoresOf(new SessionAffinityScorer(), [a, b], ctx)).toEqual([0, 0]);
    expect(scoresOf(new SessionAffinityScorer(), [a, b], { ...withToken(b.id), saturation })).toEqual([0, 1]);
  });

  it('a profile with it (weight > 0) names the header its token is issued in', () => {
    const profile = buildProfile({
      filters: [],
      scorers: [
        { type: 'queue-scorer', weight: 1 },
        { type: 'session-affinity-scorer', weight: 5, parameters: { header: 'X-Session' } },
      ],
      picker: { type: 'max-score-picker' },
    });
    expect(profile.sessionHeader).toBe('x-session');
    const off = buildProfile({ filters: [], scorers: [{ type: 'session-affinity-scorer', weight: 0 }], picker: { type: 'max-score-picker' } });
    expect(off.sessionHeader).toBeUndefined();
    expect(() => buildProfile({ filters: [], scorers: [{ type: 'session-affinity-scorer', weight: 1, parameters: { header: 'bad header' } }], picker: { type: 'max-score-picker' } })).toThrow(
      /scorers\.0\.parameters\.header: must be an HTTP header name/,
    );
  });
});
