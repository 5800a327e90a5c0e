// Builds the ioredis client of the shared state from one URL (the composition root owns outside clients):
//   redis://[user:pass@]host:port[/db]              a standalone server (rediss:// for TLS)
//   redis+sentinel://[user:pass@]h1:p1,h2:p2/<master>[/db]   Sentinel: the current master of group <master>
//   redis+cluster://[user:pass@]h1:p1,h2:p2          a Redis Cluster (seed nodes)
// The client never queues commands while disconnected and times slow ones out, so a round fails fast and the
// exchange turns local-only instead of waiting; it reconnects by itself in the background.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ConfigError, type Logger } from '../core/index.js';

export interface RedisClientOptions {
  readonly url: string;
  /** Each command fails after this long (the exchange's round timeout). */
  readonly commandTimeoutMs: number;
  readonly logger: Logger;
}

interface ParsedUrl {
  readonly kind: 'standalone' | 'sentinel' | 'cluster';
  readonly tls: boolean;
  readonly hosts: { host: string; port: number }[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly db: number | undefined;
  readonly masterName: string | undefined;
}

export function parseRedisUrl(url: string): ParsedUrl {
  const m = /^(redis|rediss|redis\+sentinel|redis\+cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)(?:\/(.*))?$/.exec(url);
  if (m === null) throw new ConfigError('sharedState.url', `${JSON.stringify(url)} is not a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL`);
  const scheme = m[1] ?? 'redis';
  const hosts = (m[4] ?? '').split(',').map((h) => {
    const hm = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(h);
    const port = Number(hm?.[2] ?? (scheme === 'redis+sentinel' ? 26379 : 6379));
    if (hm === null || hm[1] === undefined || hm[1].length === 0 || !(port > 0 && port < 65_536)) {
      throw new ConfigError('sharedState.url', `bad host ${JSON.stringify(h)}`);
    }
    return { host: hm[1], port };
  });
  const path = (m[5] ?? '').split('/').filter((p) => p.length > 0);
  const kind = scheme === 'redis+sentinel' ? 'sentinel' : scheme === 'redis+cluster' ? 'cluster' : 'standalone';
  const masterName = kind === 'sentinel' ? path.shift() : undefined;
  if (kind === 'sentinel' && masterName === undefined) throw new ConfigError('sharedState.url', 'redis+sentinel:// needs the master group name as its path');
  const db = path[0] !== undefined ? Number(path[0]) : undefined;
  if (db !== undefined && !Number.isInteger(db)) throw new ConfigError('sharedState.url', `bad database ${JSON.stringify(path[0])}`);
  const decode = (s: string | undefined): string | undefined => (s === undefined || s.length === 0 ? undefined : decodeURIComponent(s));
  return { kind, tls: scheme === 'rediss', hosts, username: decode(m[2]), password: decode(m[3]), db, masterName };
}

export function createRedisClient(options: RedisClientOptions): Redis | Cluster {
  const p = parseRedisUrl(options.url);
  const common: RedisOptions = {
    username: p.username,
    password: p.password,
    db: p.db,
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(50 * attempt, 500),
    tls: p.tls ? {} : undefined,
  };
  let client: Redis | Cluster;
  if (p.kind === 'cluster') {
    client = new Cluster(p.hosts, { redisOptions: common, enableOfflineQueue: false, clusterRetryStrategy: (n) => Math.min(50 * n, 500) });
  } else if (p.kind === 'sentinel') {
    client = new Redis({ ...common, sentinels: p.hosts, name: p.masterName });
  } else {
    const first = p.hosts[0] ?? { host: '127.0.0.1', port: 6379 };
    client = new Redis({ ...common, host: first.host, port: first.port });
  }
  // An EventEmitter's unhandled 'error' would end the process; the exchange reports the outage itself (once).
  client.on('error', (err: unknown) => options.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'redis client error'));
  return client;
}
