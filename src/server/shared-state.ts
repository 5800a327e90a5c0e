// Wires the pool's shared state from `sharedState` in the config: the Redis client and transport (or a transport
// handed in, e.g. the workers' primary), the exchange, and the channels that implement the consumers' ports:
// weighted-fair counters and pool-wide caps (flow control), in-flight counts (data layer), and
// scrape-once-per-pool sharing. The Redis client (ioredis) is loaded only for `backend: redis` (loadRedisClient).
import { hostname } from 'node:os';
import type { Cluster, Redis } from 'ioredis';
import { type FairwayConfig } from '../config/index.js';
import { type Clock, FairwayError, type Logger, type ObserverFaults } from '../core/index.js';
import { type EndpointSource, type InflightTracker, type ScrapeListener, fanOutScrapes } from '../datalayer/index.js';
import {
  type ExchangeObserver,
  type ExchangeTransport,
  type LocalScrapeOptions,
  FairnessChannel,
  InflightChannel,
  LimitsChannel,
  RedisTransport,
  ScrapeSharing,
  SharedStateExchange,
} from '../sharedstate/index.js';
import type { createRedisClient } from './redis-client.js';

/** redis-client.ts, loaded on demand: ioredis is about 2.4 MB of heap and a slow require that `local` never uses. */
let redisClientFactory: typeof createRedisClient | undefined;

/** Loads the Redis client (once); `FairwayServer.create` calls it when the config names the Redis backend. */
export async function loadRedisClient(): Promise<void> {
  redisClientFactory ??= (await import('./redis-client.js')).createRedisClient;
}

export interface SharedStateParts {
  readonly exchange: SharedStateExchange;
  readonly fairness: FairnessChannel;
  readonly inflight: InflightChannel;
  /** Pool-wide concurrency and queue caps: this replica's part of each (flow control's LimitBudget). */
  readonly limits: LimitsChannel;
  /** Scrape once per pool (`sharedState.shareScrapes`); undefined: this replica scrapes every endpoint itself. */
  readonly scrapes: ScrapeSharing | undefined;
  close(): Promise<void>;
}

export interface SharedStateDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer: ExchangeObserver;
  /** This replica's in-flight ledger (published, and reset by the scrapes applied here). */
  readonly inflight: InflightTracker;
  readonly source: EndpointSource;
  /** Ids of the pool's endpoints as this replica sees them now (whose in-flight counts it publishes). */
  readonly endpointIds: () => Iterable<string>;
  /** How to scrape when this replica does. */
  readonly scrape: LocalScrapeOptions;
  /** A transport supplied by the caller (workers talk to their primary); otherwise from the config. */
  readonly transport?: ExchangeTransport;
  /** Also told of every scrape applied here, shared or local (pool reachability). */
  readonly scrapeListener?: ScrapeListener;
  /** Where a scrape listener that throws is reported. */
  readonly observerFaults: ObserverFaults;
}

/** The shared-state parts, or undefined when this process shares nothing (`backend: local`, no transport given). */
export function buildSharedState(config: FairwayConfig, deps: SharedStateDeps): SharedStateParts | undefined {
  const c = config.sharedState;
  let client: Redis | Cluster | undefined;
  let transport = deps.transport;
  // A round may take one interval; commands time out then too, so nothing queues behind a slow server. (Half an
  // interval made rounds through a busy host's IPC or loopback time out now and then: up/down flapping.)
  const roundTimeoutMs = c.syncIntervalMs;
  if (transport === undefined) {
    if (c.backend !== 'redis') return undefined;
    if (redisClientFactory === undefined) {
      throw new FairwayError('ERR_REDIS_NOT_LOADED', 'sharedState.backend redis: build the server with `await FairwayServer.create(config, deps)`, which loads the Redis client');
    }
    client = redisClientFactory({ url: c.url, commandTimeoutMs: roundTimeoutMs, logger: deps.logger });
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
  const limits = new LimitsChannel();
  exchange.register(limits);
  let scrapes: ScrapeSharing | undefined;
  const inflight = new InflightChannel({
    local: deps.inflight,
    endpoints: deps.endpointIds,
    time: exchange,
    clock: deps.clock,
  });
  exchange.register(inflight);
  if (c.shareScrapes) {
    scrapes = new ScrapeSharing({
      source: deps.source,
      scrapeListener: fanOutScrapes(
        { inflight: deps.inflight, 'shared-inflight': inflight, ...(deps.scrapeListener !== undefined ? { reachability: deps.scrapeListener } : {}) },
        deps.observerFaults,
      ),
      scrape: deps.scrape,
      exchange,
      staleAfterMs: config.pool.metrics.stalenessMs,
      clock: deps.clock,
      logger: deps.logger,
    });
    exchange.register(scrapes);
  }
  return {
    exchange,
    fairness,
    inflight,
    limits,
    scrapes,
    close: async () => {
      await scrapes?.close();
      await exchange.close();
      client?.disconnect();
    },
  };
}
