// Wires the pool's shared state from `sharedState` in the config: the Redis client and transport (or a transport
// handed in, e.g. the workers' primary), the exchange, and the channels that implement the consumers' ports.
import { hostname } from 'node:os';
import { type Cluster, type Redis } from 'ioredis';
import { type FairwayConfig } from '../config/index.js';
import { type Clock, type Logger } from '../core/index.js';
import { type ExchangeObserver, type ExchangeTransport, FairnessChannel, RedisTransport, SharedStateExchange } from '../sharedstate/index.js';
import { createRedisClient } from './redis-client.js';

export interface SharedStateParts {
  readonly exchange: SharedStateExchange;
  readonly fairness: FairnessChannel;
  close(): Promise<void>;
}

export interface SharedStateDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer: ExchangeObserver;
  /** A transport supplied by the caller (workers talk to their primary); otherwise from the config. */
  readonly transport?: ExchangeTransport;
}

/** The shared-state parts, or undefined when this process shares nothing (`backend: local`, no transport given). */
export function buildSharedState(config: FairwayConfig, deps: SharedStateDeps): SharedStateParts | undefined {
  const c = config.sharedState;
  let client: Redis | Cluster | undefined;
  let transport = deps.transport;
  // A round may take half an interval; commands time out then too, so nothing queues behind a slow server.
  const roundTimeoutMs = c.syncIntervalMs / 2;
  if (transport === undefined) {
    if (c.backend !== 'redis') return undefined;
    client = createRedisClient({ url: c.url, commandTimeoutMs: roundTimeoutMs, logger: deps.logger });
    transport = new RedisTransport({ client, keyPrefix: c.keyPrefix });
  }
  const exchange = new SharedStateExchange({
    transport,
    origin: c.replicaId ?? `${hostname()}-${process.pid}`,
    clock: deps.clock,
    logger: deps.logger,
    syncIntervalMs: c.syncIntervalMs,
    roundTimeoutMs,
    observer: deps.observer,
  });
  const fairness = new FairnessChannel();
  exchange.register(fairness);
  return {
    exchange,
    fairness,
    close: async () => {
      await exchange.close();
      client?.disconnect();
    },
  };
}
