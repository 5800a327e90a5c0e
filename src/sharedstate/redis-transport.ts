// The exchange over Redis: one Lua script per round (one round trip, atomic, the server's clock), loaded once and
// called by SHA (ioredis falls back to EVAL by itself when a restarted server has lost its script cache).
//
// Keys, all under one prefix that carries a {hash tag} so a Redis Cluster keeps them in one slot:
//   <prefix>members        sorted set: origin -> expiry (server ms); who is in the pool
//   <prefix>o:<origin>     hash: the origin's own fields plus `_v` (its version) and `_f` (end of its heartbeat
//                          window, server ms: past it the origin is stale; a peer's hash without it was written
//                          by an older Fairway during a rolling upgrade and counts as fresh); PEXPIREd every round
//   <prefix>lease:<name>   string: holder's origin, with a TTL (scrape leadership)
// Each replica writes only its own hash, so replicas never conflict; a dead one's hash and membership expire.
// Budget claims on pool-wide caps (BudgetClaim) are granted inside the same script: it reads the other live
// replicas' fields of the cap and writes the grant into the claimant's own hash, so grants never race.
// Types only (`import type`, so the compiled module does not load ioredis): the client comes from the caller.
import type { Cluster, Redis } from 'ioredis';
import { type ExchangeTransport, type PeerReply, type RoundReply, type RoundRequest, FRESH_FIELD, VERSION_FIELD } from './transport.js';

const SYNC_SCRIPT = `
local members, own, leaseKey = KEYS[1], KEYS[2], KEYS[3]
local prefix, origin, ttl, full, epoch = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1', ARGV[5]
local heartbeat = math.min(ttl, tonumber(ARGV[6]))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function stale(key, unmarked)
  local fresh = tonumber(redis.call('HGET', key, '${FRESH_FIELD}'))
  if fresh == nil then return unmarked end
  return fresh < now
end
if not full and (redis.call('EXISTS', own) == 0 or stale(own, true)) then return {'lost'} end
local i = 7
local nset = tonumber(ARGV[i]); i = i + 1
if full then redis.call('DEL', own) end
local wrote = full
for _ = 1, nset do redis.call('HSET', own, ARGV[i], ARGV[i + 1]); i = i + 2; wrote = true end
local ndel = tonumber(ARGV[i]); i = i + 1
for _ = 1, ndel do redis.call('HDEL', own, ARGV[i]); i = i + 1; wrote = true end
redis.call('ZADD', members, now + ttl, origin)
redis.call('ZREMRANGEBYSCORE', members, '-inf', now)
redis.call('PEXPIRE', members, ttl * 10)
local live = redis.call('ZRANGEBYSCORE', members, now, '+inf')
local function budget(v)
  if not v then return 0, 0 end
  local h, _, u = string.match(v, '^([^,]*),([^,]*),([^,]*)$')
  return tonumber(h) or 0, tonumber(u) or 0
end
local granted = {}
local nclaims = tonumber(ARGV[i]); i = i + 1
for _ = 1, nclaims do
  local field, cap, want, demand, used = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3], ARGV[i + 4]
  i = i + 5
  local b = math.max(1, math.floor(cap / (8 * #live)))
  local others = 0
  for _, m in ipairs(live) do
    if m ~= origin and not stale(prefix .. 'o:' .. m, false) then
      local held, u = budget(redis.call('HGET', prefix .. 'o:' .. m, field))
      others = others + math.max(held + b, u)
    end
  end
  local ownHeld = budget(redis.call('HGET', own, field))
  local g = math.max(0, ownHeld, math.min(want, cap - b - others))
  redis.call('HSET', own, field, g .. ',' .. demand .. ',' .. used)
  table.insert(granted, field)
  table.insert(granted, tostring(g))
  wrote = true
end
if full then redis.call('HSET', own, '${VERSION_FIELD}', epoch .. '.0')
elseif wrote then
  local v = redis.call('HGET', own, '${VERSION_FIELD}') or (epoch .. '.0')
  local dot = string.find(v, '.', 1, true)
  redis.call('HSET', own, '${VERSION_FIELD}', string.sub(v, 1, dot) .. (tonumber(string.sub(v, dot + 1)) + 1))
end
redis.call('HSET', own, '${FRESH_FIELD}', now + heartbeat)
redis.call('PEXPIRE', own, ttl)
local known = {}
local nknown = tonumber(ARGV[i]); i = i + 1
for _ = 1, nknown do known[ARGV[i]] = ARGV[i + 1]; i = i + 2 end
local leaseWant = ARGV[i]
local holder = false
if leaseWant == '1' then
  holder = redis.call('GET', leaseKey)
  if not holder then redis.call('SET', leaseKey, origin, 'PX', ttl); holder = origin
  elseif holder == origin then redis.call('PEXPIRE', leaseKey, ttl) end
elseif leaseWant == '0' then
  holder = redis.call('GET', leaseKey)
  if holder == origin then redis.call('DEL', leaseKey); holder = false end
end
local out = {'ok', tostring(now), holder or '', granted}
for _, m in ipairs(live) do
  if m ~= origin then
    local key = prefix .. 'o:' .. m
    local v = redis.call('HGET', key, '${VERSION_FIELD}')
    if v then
      table.insert(out, m)
      table.insert(out, v)
      table.insert(out, stale(key, false) and 1 or 0)
      if known[m] == v then table.insert(out, 0) else table.insert(out, redis.call('HGETALL', key)) end
    end
  end
end
return out
`;

export interface RedisTransportOptions {
  /** An ioredis client (standalone, Sentinel-backed, or a Cluster); created and closed by the caller. */
  readonly client: Redis | Cluster;
  /** Prefix of every key; keep a {hash tag} in it for Redis Cluster. */
  readonly keyPrefix: string;
}

interface SyncCommand {
  fairwaySync(...args: (string | number)[]): Promise<unknown>;
}

function hasSync(client: unknown): client is SyncCommand {
  return typeof (client as { fairwaySync?: unknown }).fairwaySync === 'function';
}

export class RedisTransport implements ExchangeTransport {
  private readonly client: Redis | Cluster;
  private readonly prefix: string;

  constructor(options: RedisTransportOptions) {
    this.client = options.client;
    this.prefix = options.keyPrefix;
    if (!hasSync(this.client)) this.client.defineCommand('fairwaySync', { numberOfKeys: 3, lua: SYNC_SCRIPT });
  }

  async round(request: RoundRequest): Promise<RoundReply> {
    if (!hasSync(this.client)) throw new Error('fairwaySync command not defined');
    const args: (string | number)[] = [
      `${this.prefix}members`,
      `${this.prefix}o:${request.origin}`,
      `${this.prefix}lease:${request.lease?.name ?? '-'}`,
      this.prefix,
      request.origin,
      Math.max(1, Math.round(request.ttlMs)),
      request.full ? '1' : '0',
      request.epoch,
      Math.max(1, Math.round(request.heartbeatMs)),
      request.set.size,
    ];
    for (const [k, v] of request.set) args.push(k, v);
    args.push(request.del.length, ...request.del);
    const claims = request.claims ?? [];
    args.push(claims.length);
    for (const c of claims) args.push(c.field, c.cap, c.want, c.demand, c.used);
    args.push(request.known.size);
    for (const [k, v] of request.known) args.push(k, v);
    args.push(request.lease === undefined ? '' : request.lease.want ? '1' : '0');
    return parseReply(await this.client.fairwaySync(...args));
  }

  async leave(origin: string, leaseName?: string): Promise<void> {
    const pipeline = this.client.multi();
    pipeline.del(`${this.prefix}o:${origin}`);
    pipeline.zrem(`${this.prefix}members`, origin);
    await pipeline.exec();
    if (leaseName !== undefined) {
      const key = `${this.prefix}lease:${leaseName}`;
      if ((await this.client.get(key)) === origin) await this.client.del(key);
    }
  }
}

function parseReply(raw: unknown): RoundReply {
  if (!Array.isArray(raw) || raw.length === 0) throw new Error('unexpected reply from the sync script');
  const values: unknown[] = raw;
  if (values[0] === 'lost') return { kind: 'lost' };
  const serverTimeMs = Number(values[1]);
  const holder = typeof values[2] === 'string' && values[2].length > 0 ? values[2] : undefined;
  const grants = values[3];
  const granted = new Map<string, number>();
  if (Array.isArray(grants)) {
    for (let i = 0; i + 1 < grants.length; i += 2) {
      const field: unknown = grants[i];
      const g = Number(grants[i + 1]);
      if (typeof field === 'string' && Number.isFinite(g)) granted.set(field, g);
    }
  }
  const peers = new Map<string, PeerReply>();
  for (let i = 4; i + 3 < values.length; i += 4) {
    const origin = values[i];
    const version = values[i + 1];
    const fields = values[i + 3];
    if (typeof origin !== 'string' || typeof version !== 'string') break;
    peers.set(origin, { version, fields: Array.isArray(fields) ? toFields(fields) : undefined, stale: values[i + 2] === 1 });
  }
  return { kind: 'ok', serverTimeMs, peers, leaseHolder: holder, ...(granted.size > 0 ? { granted } : {}) };
}

function toFields(flat: unknown[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const k = flat[i];
    const v = flat[i + 1];
    if (typeof k === 'string' && typeof v === 'string' && k !== VERSION_FIELD && k !== FRESH_FIELD) out.set(k, v);
  }
  return out;
}
