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
  it('do not contain the address: a hash, the same for the same id (every replica issues the same)', () => {
    for (const e of [a, b, c]) {
      const token = encodeSessionToken(e.id);
      expect(token).toMatch(/^fw1\.[A-Za-z0-9_-]{22}$/);
      expect(token).toBe(encodeSessionToken(e.id));
      expect(Buffer.from(token.slice(4), 'base64url').toString('latin1')).not.toContain(e.host);
    }
    expect(new Set([a, b, c].map((e) => encodeSessionToken(e.id))).size).toBe(3);
  });

  it('with a secret, differ from the unkeyed ones and between secrets', () => {
    const plain = encodeSessionToken(a.id);
    const keyed = encodeSessionToken(a.id, 'a-secret-of-16+chars');
    expect(keyed).not.toBe(plain);
    expect(keyed).not.toBe(encodeSessionToken(a.id, 'another-secret-16+chars'));
  });

  it('of the first format (base64 of the id) still decode, every endpoint id, IPv6 included', () => {
    for (const e of [a, b, c]) expect(decodeSessionToken(Buffer.from(e.id).toString('base64'))).toBe(e.id);
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

  it('still honours a token of the first format (base64 of host:port), so sessions survive the upgrade', () => {
    const legacy = context({ headers: new Map([['x-session-token', Buffer.from(c.id).toString('base64')]]) });
    expect(scoresOf(new SessionAffinityScorer(), [a, b, c], legacy)).toEqual([0, 0, 1]);
  });

  it('with a secret, honours its own tokens and not unkeyed ones (or another secret\'s)', () => {
    const s = new SessionAffinityScorer({ secret: 'a-secret-of-16+chars' });
    expect(s.sessionToken(b.id)).toBe(encodeSessionToken(b.id, 'a-secret-of-16+chars'));
    const token = (t: string): ReturnType<typeof context> => context({ headers: new Map([['x-session-token', t]]) });
    expect(scoresOf(s, [a, b], token(s.sessionToken(b.id)))).toEqual([0, 1]);
    expect(scoresOf(s, [a, b], token(encodeSessionToken(b.id)))).toEqual([0, 0]);
    expect(scoresOf(s, [a, b], token(encodeSessionToken(b.id, 'another-secret-16+chars')))).toEqual([0, 0]);
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
    expect(profile.sessionToken(a.id)).toBe(encodeSessionToken(a.id));
    const off = buildProfile({ filters: [], scorers: [{ type: 'session-affinity-scorer', weight: 0 }], picker: { type: 'max-score-picker' } });
    expect(off.sessionHeader).toBeUndefined();
    expect(() => buildProfile({ filters: [], scorers: [{ type: 'session-affinity-scorer', weight: 1, parameters: { header: 'bad header' } }], picker: { type: 'max-score-picker' } })).toThrow(
      /scorers\.0\.parameters\.header: must be an HTTP header name/,
    );
  });
});
