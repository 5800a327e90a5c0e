// A FairwayServer whose start fails part way (a port already taken) shuts down what it had opened.
import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { noopLogger } from '../../../src/core/index.js';
import { FairwayServer } from '../../../src/server/index.js';

describe('FairwayServer start failure', () => {
  it('rejects, closes the ports it had opened and stops admitting, when a later port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const server = new FairwayServer(
        validateConfig({ pool: { endpoints: [{ host: '127.0.0.1', port: 1 }] }, server: { host: '127.0.0.1', grpcPort: 0, healthPort: 0, metricsPort: taken } }),
        { logger: noopLogger },
      );
      await expect(server.start()).rejects.toThrow();
      const outcome = await server.flowControl.enqueueAndWait({ id: 'r', fairnessId: 't', priority: 0, byteSize: 1, estimatedCost: 1, ttlMs: 200 });
      expect(outcome).toMatchObject({ kind: 'rejected', reason: 'shutdown' });
      // The shutdown started by the failure has finished: calling it again resolves at once with the same promise.
      await server.shutdown();
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
