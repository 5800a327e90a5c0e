import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../../src/config/index.js';

describe('configuration', () => {
  it('gives every field a default', () => {
    const c = validateConfig({});
    expect(c.server).toMatchObject({ grpcPort: 9002, healthPort: 9003, metricsPort: 9090 });
    expect(c.server.proxyPort).toBeUndefined();
    expect(c.flowControl.defaultTtlMs).toBe(60_000);
    expect(c.flowControl.maxQueuedRequests).toBe(Infinity);
    expect(c.saturation.detector).toBe('hybrid');
    expect(c.pool.metrics).toMatchObject({ intervalMs: 50, stalenessMs: 200, nameFilter: 'auto' });
    expect(c.trust.mode).toBe('trusted');
  });

  it('accepts the commented example shipped in examples/', () => {
    const c = parseConfig(readFileSync(new URL('../../../examples/fairway.yaml', import.meta.url), 'utf8'), 'examples/fairway.yaml');
    expect(c.pool.endpoints).toHaveLength(3);
    expect(c.objectives['chat-premium']).toBe(10);
    expect(c.flowControl.bands.map((b) => b.priority)).toEqual([10, 0, -1]);
  });

  it('names the path and the bad value of an invalid field', () => {
    expect(() => validateConfig({ server: { grpcPort: 70_000 } })).toThrow(/server\.grpcPort.*70000/);
    expect(() => validateConfig({ flowControl: { bands: [{ priority: 1.5 }] } })).toThrow(/flowControl\.bands\.0\.priority.*1\.5/);
    expect(() => validateConfig({ objectives: { chat: 'high' } })).toThrow(/objectives\.chat.*"high"/);
    expect(() => validateConfig({ pool: { metrics: { nameFilter: 'yes' } } })).toThrow(/pool\.metrics\.nameFilter/);
  });

  it('refuses a scrape interval that is not below the staleness limit, and TTLs Node timers cannot wait', () => {
    expect(() => validateConfig({ pool: { metrics: { intervalMs: 500, stalenessMs: 200 } } })).toThrow(/pool\.metrics.*intervalMs must be below stalenessMs/);
    expect(validateConfig({ pool: { metrics: { intervalMs: 500, stalenessMs: 2_000 } } }).pool.metrics.stalenessMs).toBe(2_000);
    expect(() => validateConfig({ flowControl: { defaultTtlMs: 3e9 } })).toThrow(/flowControl\.defaultTtlMs/);
    expect(() => validateConfig({ flowControl: { bands: [{ priority: 1, ttlMs: 3e9 }] } })).toThrow(/flowControl\.bands\.0\.ttlMs/);
  });

  it('takes the Envoy body modes Fairway can route in, and refuses the others by name', () => {
    expect(validateConfig({}).server.extProc).toEqual({ requestBodyMode: 'FULL_DUPLEX_STREAMED', responseBodyMode: 'FULL_DUPLEX_STREAMED', http2WindowBytes: 1024 * 1024 });
    const buffered = validateConfig({ server: { extProc: { requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED' } } });
    expect(buffered.server.extProc).toMatchObject({ requestBodyMode: 'BUFFERED', responseBodyMode: 'STREAMED' });
    expect(() => validateConfig({ server: { extProc: { requestBodyMode: 'STREAMED' } } })).toThrow(/server\.extProc\.requestBodyMode/);
  });

  it("refuses an ext_proc HTTP/2 window outside HTTP/2's range (65,535 to 2^31 - 1), naming the field", () => {
    expect(validateConfig({ server: { extProc: { http2WindowBytes: 65_535 } } }).server.extProc.http2WindowBytes).toBe(65_535);
    expect(() => validateConfig({ server: { extProc: { http2WindowBytes: 65_534 } } })).toThrow(/server\.extProc\.http2WindowBytes/);
    expect(() => validateConfig({ server: { extProc: { http2WindowBytes: 2 ** 31 } } })).toThrow(/server\.extProc\.http2WindowBytes/);
  });

  it('refuses unknown keys rather than silently ignoring a typo', () => {
    expect(() => validateConfig({ flowControll: {} })).toThrow(/flowControll/);
    expect(() => validateConfig({ server: { grpcport: 1 } })).toThrow(/grpcport/);
  });

  it('reports YAML syntax errors with the source name', () => {
    expect(() => parseConfig('pool: [unclosed', 'bad.yaml')).toThrow(/bad\.yaml: invalid YAML/);
    expect(() => parseConfig('kind: ConfigMap\n---\nkind: Deployment\n', 'manifest.yaml')).toThrow(
      /manifest\.yaml: holds 2 YAML documents \(a Kubernetes manifest\?\); give the configuration alone/,
    );
  });

  it('needs cert and key files for TLS mode "files"', () => {
    expect(() => validateConfig({ server: { tls: { mode: 'files' } } })).toThrow(/server\.tls/);
  });

  it('accepts its own output again: unlimited capacities stay Infinity', () => {
    const once = validateConfig({ flowControl: { maxQueuedRequests: 'unlimited', bands: [{ priority: 0, maxBytes: 'unlimited' }] } });
    expect(once.flowControl.maxQueuedRequests).toBe(Infinity);
    const twice = validateConfig(once);
    expect(twice.flowControl.maxQueuedRequests).toBe(Infinity);
    expect(twice.flowControl.bands[0]?.maxBytes).toBe(Infinity);
    expect(() => validateConfig({ flowControl: { maxQueuedRequests: -Infinity } })).toThrow(/flowControl\.maxQueuedRequests/);
  });

  it('merges command-line overrides over the file before validating, ignoring flags not given', () => {
    const c = parseConfig('server: { grpcPort: 7000, healthPort: 7001 }\nlogging: { level: debug }\n', 'f.yaml', {
      server: { grpcPort: 0, healthPort: undefined },
      logging: { level: undefined },
    });
    expect(c.server.grpcPort).toBe(0);
    expect(c.server.healthPort).toBe(7001);
    expect(c.logging.level).toBe('debug');
    expect(() => parseConfig('', 'f.yaml', { server: { grpcPort: 99_999 } })).toThrow(/f\.yaml: server\.grpcPort/);
  });

  it('returns a frozen document', () => {
    const c = validateConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.server)).toBe(true);
  });
});
