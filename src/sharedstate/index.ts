// Public surface of src/sharedstate: the exchange that lets replicas of one pool share state (fairness counters,
// in-flight counts, scrape snapshots, budgets), its transports (Redis, in memory) and the channels implementing
// the consumers' ports.
export {
  type ExchangeChannel,
  type ChannelWrites,
  type PeerView,
  type ExchangeStats,
  type ExchangeObserver,
  type SharedStateExchangeOptions,
  SharedStateExchange,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_TTL_INTERVALS,
  MIN_DATA_TTL_MS,
  sharedStateTtlMs,
} from './exchange.js';
export {
  type ExchangeTransport,
  type RoundRequest,
  type RoundReply,
  type PeerReply,
  type BudgetClaim,
  type BudgetPart,
  budgetSlack,
  parseBudgetPart,
} from './transport.js';
export { MemoryHub } from './memory-hub.js';
export { FairnessChannel, FAIRNESS_CHANNEL } from './fairness-channel.js';
export { RedisTransport, type RedisTransportOptions } from './redis-transport.js';
export { InflightChannel, type InflightChannelOptions, INFLIGHT_CHANNEL } from './inflight-channel.js';
export {
  ScrapeSharing,
  type ScrapeSharingOptions,
  type ScrapeSharingStats,
  type LocalScrapeOptions,
  SCRAPE_CHANNEL,
  SCRAPE_LEASE,
} from './scrape-sharing.js';
export { LimitsChannel, LIMITS_CHANNEL } from './limits-channel.js';
export { OutageLog, type OutageLogOptions } from './outage-log.js';
