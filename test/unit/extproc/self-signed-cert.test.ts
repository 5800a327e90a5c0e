import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSelfSignedCertificate } from '../../../src/extproc/index.js';

describe('generateSelfSignedCertificate', () => {
  it('produces a valid, self-verifying certificate for localhost and loopback IPs', () => {
    const { cert, key } = generateSelfSignedCertificate({ now: new Date('2026-01-01T00:00:00Z') });
    const x = new X509Certificate(cert);
    expect(x.subject).toBe('CN=fairway');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkHost('localhost')).toBe('localhost');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkIP('::1')).toBe('::1');
    expect(x.ca).toBe(false);
    expect(new Date(x.validTo).getTime() - new Date(x.validFrom).getTime()).toBe(365 * 86_400_000 + 3_600_000);
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
  });

  it('always encodes a parsable certificate: the random serial never needs illegal DER padding', () => {
    // Before the fix, a serial whose first byte was zero made 1 certificate in 512 unparsable.
    for (let i = 0; i < 3_000; i++) {
      const x = new X509Certificate(generateSelfSignedCertificate().cert);
      expect(x.serialNumber.length).toBe(32);
    }
  });

  it('uses GeneralizedTime beyond 2049', () => {
    const x = new X509Certificate(generateSelfSignedCertificate({ now: new Date('2049-12-31T00:00:00Z'), validDays: 10 }).cert);
    expect(new Date(x.validTo).getUTCFullYear()).toBe(2050);
  });
});
