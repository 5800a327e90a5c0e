// Scraper credentials from files: CA read once (a bad path fails start-up), bearer token re-read each minute and
// the previous one kept while the file is briefly missing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ManualClock, noopLogger } from '../../../src/core/index.js';
import { TOKEN_REFRESH_MS, metricsFetchOptions } from '../../../src/server/metrics-credentials.js';

const BASE = { scheme: 'https' as const, tls: { insecureSkipVerify: false }, maxBodyBytes: 1024 };

describe('metricsFetchOptions', () => {
  it('reads the CA file and passes TLS settings through', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fairway-ca-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), 'PEM');
      const options = metricsFetchOptions({ ...BASE, tls: { caFile: join(dir, 'ca.pem'), insecureSkipVerify: false, serverName: 'vllm' } }, new ManualClock(), noopLogger);
      expect(options).toMatchObject({ scheme: 'https', maxBodyBytes: 1024, tls: { ca: 'PEM', serverName: 'vllm', insecureSkipVerify: false } });
      expect(options.bearerToken).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('fails start-up with a config error naming the field when a file cannot be read', () => {
    expect(() => metricsFetchOptions({ ...BASE, tls: { caFile: '/nonexistent/ca.pem', insecureSkipVerify: false } }, new ManualClock(), noopLogger)).toThrow(ConfigError);
    expect(() => metricsFetchOptions({ ...BASE, bearerTokenFile: '/nonexistent/token' }, new ManualClock(), noopLogger)).toThrow(/pool\.metrics\.bearerTokenFile/);
  });

  it('re-reads the token file each minute and keeps the last token while the file is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fairway-token-'));
    const file = join(dir, 'token');
    try {
      writeFileSync(file, 'first\n');
      const clock = new ManualClock();
      const token = metricsFetchOptions({ ...BASE, bearerTokenFile: file }, clock, noopLogger).bearerToken!;
      expect(token()).toBe('first');
      writeFileSync(file, 'second\n');
      expect(token()).toBe('first'); // not re-read on every scrape
      clock.advance(TOKEN_REFRESH_MS);
      expect(token()).toBe('second');
      rmSync(file);
      clock.advance(TOKEN_REFRESH_MS);
      expect(token()).toBe('second');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
