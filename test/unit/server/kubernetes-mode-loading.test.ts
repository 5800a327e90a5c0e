// Kubernetes mode and the Redis client are loaded on demand (the Kubernetes client is tens of MB of heap a static
// pool need not carry, ioredis a few): building a server that needs one without loading it fails with an error
// saying how to build it instead.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { noopLogger } from '../../../src/core/index.js';
import { FairwayServer } from '../../../src/server/index.js';

describe('FairwayServer construction', () => {
  it('refuses Kubernetes mode through `new` until the Kubernetes client is loaded, naming FairwayServer.create', () => {
    const config = validateConfig({ kubernetes: { poolName: 'llama', poolNamespace: 'models' }, logging: { level: 'silent' } });
    expect(() => new FairwayServer(config, { logger: noopLogger })).toThrow(/FairwayServer\.create/);
  });

  it('refuses the Redis backend through `new` until the Redis client is loaded, naming FairwayServer.create', () => {
    const config = validateConfig({ sharedState: { backend: 'redis', url: 'redis://127.0.0.1:1' }, logging: { level: 'silent' } });
    expect(() => new FairwayServer(config, { logger: noopLogger })).toThrow(/FairwayServer\.create/);
  });

  it('builds a static pool through `new` without the Kubernetes client', () => {
    const config = validateConfig({ pool: { endpoints: [{ host: '127.0.0.1', port: 1 }] }, logging: { level: 'silent' } });
    const server = new FairwayServer(config, { logger: noopLogger });
    expect(server.kubernetes).toBeUndefined();
    let listed = -1;
    server.source.subscribe((endpoints) => (listed = endpoints.length))();
    expect(listed).toBe(1);
  });
});
