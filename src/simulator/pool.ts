// Several simulated servers in one process, on consecutive ports (or ephemeral ones), started and closed together.
import { InvalidArgumentError, requireIntegerInRange } from '../core/index.js';
import { DEFAULT_SEED } from './engine.js';
import { DEFAULT_HOST, SimServer, type SimServerOptions } from './sim-server.js';

export const DEFAULT_REPLICAS = 1;

export interface SimulatedPoolOptions extends Omit<SimServerOptions, 'port' | 'speedFactor'> {
  /** @default DEFAULT_REPLICAS */
  readonly replicas?: number;
  /** First port; replica i listens on port + i. 0 gives every replica an ephemeral port. @default 0 */
  readonly port?: number;
  /** Speed factor per replica (missing entries are 1): `[1, 1, 0.5]` makes the third a slow pod. */
  readonly speedFactors?: readonly number[];
  /**
   * A multi-model pool: replica i serves `models[i % models.length]` (its model, and its adapters when given),
   * instead of `model` and `loras`. Each replica's `/v1/models` lists what it serves.
   */
  readonly models?: readonly ReplicaModels[];
}

/** What one replica serves. */
export interface ReplicaModels {
  readonly model: string;
  /** LoRA adapters loaded at start (enables LoRA on that replica). */
  readonly loras?: readonly string[];
}

export interface SimulatedEndpoint {
  readonly host: string;
  readonly port: number;
  /** `host:port` (IPv6 bracketed), the form the data layer and the proxy use. */
  readonly id: string;
}

export interface SimulatedPool {
  readonly servers: readonly SimulatedEndpoint[];
  /** The servers themselves, for tests that inspect engines or change fake metrics. */
  readonly simulators: readonly SimServer[];
  close(): Promise<void>;
}

/** Starts `replicas` servers; replica i is seeded `seed + i`. If one fails to listen, the others are closed. */
export async function startSimulatedPool(options: SimulatedPoolOptions = {}): Promise<SimulatedPool> {
  const replicas = requireIntegerInRange('replicas', options.replicas ?? DEFAULT_REPLICAS, 1, 1024);
  const basePort = requireIntegerInRange('port', options.port ?? 0, 0, 65_535);
  if (basePort !== 0 && basePort + replicas - 1 > 65_535) {
    throw new InvalidArgumentError('replicas', replicas, `small enough for ports ${basePort}..65535`);
  }
  const host = options.host ?? DEFAULT_HOST;
  const seed = options.seed ?? DEFAULT_SEED;
  const simulators: SimServer[] = [];
  const models = options.models;
  if (models !== undefined && models.length === 0) throw new InvalidArgumentError('models', '[]', 'at least one model');
  for (let i = 0; i < replicas; i++) {
    const served = models?.[i % (models?.length ?? 1)];
    simulators.push(
      new SimServer({
        ...options,
        ...(served !== undefined ? { model: served.model, loras: served.loras } : {}),
        host,
        port: basePort === 0 ? 0 : basePort + i,
        seed: seed + i,
        speedFactor: options.speedFactors?.[i] ?? 1,
      }),
    );
  }
  const started = await Promise.allSettled(simulators.map((s) => s.start()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(simulators.map((s) => s.close()));
    throw failed.reason;
  }
  const servers = simulators.map((s) => ({ host, port: s.port, id: endpointId(host, s.port) }));
  let closing: Promise<void> | undefined;
  return {
    servers,
    simulators,
    close: () => (closing ??= Promise.all(simulators.map((s) => s.close())).then(() => undefined)),
  };
}

function endpointId(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
