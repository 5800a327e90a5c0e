// The embedded default setup of `fairway demo` (what `npm start` runs): objectives, tenants and flow control
// suited to a small simulated pool, pointing at the simulated servers.
import { type FairwayConfig, validateConfig } from '../config/index.js';

export interface DemoPorts {
  readonly grpcPort: number;
  readonly healthPort: number;
  readonly metricsPort: number;
  readonly proxyPort: number;
}

export const DEMO_MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
/** max_num_seqs of the simulator's `ci` profile. */
export const CI_MAX_NUM_SEQS = 32;

export function demoConfig(endpoints: readonly { host: string; port: number }[], ports: DemoPorts): FairwayConfig {
  return validateConfig({
    pool: { endpoints: endpoints.map((e) => ({ host: e.host, port: e.port })) },
    objectives: { interactive: 10, standard: 0, batch: -1 },
    tenants: { 'tenant-a': { weight: 1 }, 'tenant-b': { weight: 1 }, gold: { weight: 3 }, bronze: { weight: 1 } },
    flowControl: {
      defaultTtlMs: 30_000,
      bands: [
        { priority: 10, name: 'interactive' },
        { priority: 0, name: 'standard' },
        { priority: -1, name: 'batch', maxRequests: 500, ttlMs: 8_000 },
      ],
      maxQueuedRequests: 5_000,
      // Lower bands give way earlier (1.0, 0.9, 0.8): sheddable batch work leaves room for interactive bursts.
      usageLimit: { name: 'priority-holdback', params: { step: 0.1, floor: 0.5 } },
    },
    // The simulated servers run at most 32 sequences (the `ci` profile's max_num_seqs): never send more than
    // that, so an interactive request finds a free slot instead of queueing inside the server behind batch work.
    saturation: { detector: 'hybrid', options: { maxRequests: CI_MAX_NUM_SEQS } },
    server: { host: '127.0.0.1', ...ports, shutdownGraceMs: 5_000 },
    logging: { level: 'warn' },
  });
}
