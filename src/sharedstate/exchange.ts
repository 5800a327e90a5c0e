// The shared-state exchange: every sync interval, one round trip writes this replica's own data (what its
// channels changed) and reads the other live replicas' data, which the channels turn into the views their
// consumers read synchronously. Nothing on a request's path ever waits for it.
//
// Faults. A round that fails, or does not answer within the round timeout, turns the replica local-only at once
// (`up` false; logged once per outage, one-round blips folded, see outage-log.ts): channels keep the others' last figures where that keeps keys stable but stop
// counting anyone as waiting elsewhere. The next round that succeeds rewrites all own data (so a store that
// restarted empty, or that expired this replica's data while it was paused, gets it back whole, never twice) and
// the replica rejoins. Own data carries a TTL of `ttlIntervals` sync intervals but at least MIN_DATA_TTL_MS
// (sharedStateTtlMs), so a replica that dies or stops drops out of every other replica's view within that time,
// and one paused for less (a major GC, a busy event loop) keeps its in-flight counts and service counters in it.
// But a replica silent for more than `ttlIntervals` intervals (its heartbeat window) is stale at once: peers see
// it flagged (PeerView.stale) and count neither its queued tenants (fairness hold) nor its budget parts (the
// store's grant), which a crashed replica would otherwise keep for the whole floor (the rest of its data, the
// replica count included, counts until it expires: the cautious side); when a paused one returns,
// the store answers `lost` and it rewrites its data whole (its budget parts start again from nothing).
// The lease keeps `ttlIntervals` intervals: a dead scraper must be replaced before the shared scrapes go stale,
// and a paused one losing it costs one handover.
import { type Clock, type Logger, type TimerHandle, noopLogger, requirePositive, systemClock } from '../core/index.js';
import { OutageLog } from './outage-log.js';
import { type BudgetClaim, CHANNEL_SEPARATOR, type ExchangeTransport, type RoundReply, type RoundRequest } from './transport.js';

/** @default 20 ms */
export const DEFAULT_SYNC_INTERVAL_MS = 20;
/** A replica's data outlives its last round by this many intervals (the heartbeat TTL), or MIN_DATA_TTL_MS. @default 3 */
export const DEFAULT_TTL_INTERVALS = 3;
/**
 * The shortest TTL of a replica's data. Three 20 ms intervals are 60 ms: a GC pause or a busy event loop that long
 * would drop a live replica from its peers' view (its in-flight counts, budget parts and fairness figures gone, then
 * back). Past it the cost is a dead replica's figures counted for up to 1 s longer.
 */
export const MIN_DATA_TTL_MS = 1_000;

/** The TTL of a replica's data: `ttlIntervals` sync intervals, never below MIN_DATA_TTL_MS. */
export function sharedStateTtlMs(syncIntervalMs: number, ttlIntervals: number): number {
  return Math.max(MIN_DATA_TTL_MS, syncIntervalMs * ttlIntervals);
}

/** One consumer's part of the replica's data: fields under its id. */
export interface ExchangeChannel {
  /** Short id, no `|` (e.g. `w` for weighted-fair counters). */
  readonly id: string;
  /** Own fields changed since the last call (set / deleted), or every field when `all`. */
  collect(all: boolean): ChannelWrites;
  /** The other replicas' fields of this channel after a round, or the frozen last view when the exchange is down. */
  apply(view: PeerView): void;
}

export interface ChannelWrites {
  readonly set: ReadonlyMap<string, string>;
  readonly del: readonly string[];
  /** Budget claims on pool-wide caps (channel-local field names; see BudgetClaim), answered in `PeerView.granted`. */
  readonly claims?: readonly BudgetClaim[];
}

/** What a channel learns after each round. */
export interface PeerView {
  /** False while local-only: `peers` is then the last view before the failure. */
  readonly connected: boolean;
  /** Each live peer's fields of this channel (channel-local field names). */
  readonly peers: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Peers silent past their heartbeat window (maybe crashed): count their in-flight and service, not their demand. */
  readonly stale: ReadonlySet<string>;
  /** Peers whose fields of this channel, or whose staleness, may have changed since the previous apply. */
  readonly changed: ReadonlySet<string>;
  /** Budget granted for this channel's claims of the round (channel-local field names); empty when none. */
  readonly granted: ReadonlyMap<string, number>;
  /** Converts a time of the pool's common base (the store's clock) to this replica's clock, and back. */
  readonly toLocal: (sharedMs: number) => number;
  readonly toShared: (localMs: number) => number;
}

export interface ExchangeStats {
  readonly origin: string;
  readonly up: boolean;
  readonly peers: number;
  readonly rounds: number;
  readonly failedRounds: number;
  /** Who holds the exchange's lease (scrape leadership), as of the last round. */
  readonly leaseHolder: string | undefined;
}

/** Observability port with a no-op default. */
export interface ExchangeObserver {
  onRound(durationMs: number, ok: boolean): void;
}

export interface SharedStateExchangeOptions {
  readonly transport: ExchangeTransport;
  /** This replica's id; unique in the pool (e.g. host name and process id). */
  readonly origin: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default noopLogger */
  readonly logger?: Logger;
  /** @default 20 */
  readonly syncIntervalMs?: number;
  /** The data's TTL in sync intervals (never below MIN_DATA_TTL_MS). @default 3 */
  readonly ttlIntervals?: number;
  /**
   * A round still unanswered after this long counts as failed. @default the sync interval (a slow store turns the
   * replica local-only one interval after the round began; a shorter timeout flaps on a busy host, see README)
   */
  readonly roundTimeoutMs?: number;
  readonly observer?: ExchangeObserver;
}

interface Peer {
  version: string;
  stale: boolean;
  /** Fields by channel id, then channel-local field name. */
  channels: Map<string, Map<string, string>>;
}

const EMPTY_FIELDS: ReadonlyMap<string, string> = new Map();
const NO_GRANTS: ReadonlyMap<string, number> = new Map();

export class SharedStateExchange {
  readonly origin: string;
  readonly syncIntervalMs: number;
  /** Of own data (sharedStateTtlMs). */
  readonly ttlMs: number;
  /** Of the lease: `ttlIntervals` intervals, no floor. */
  private readonly leaseTtlMs: number;
  private readonly transport: ExchangeTransport;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly outages: OutageLog;
  private readonly roundTimeoutMs: number;
  private readonly observer: ExchangeObserver | undefined;
  private readonly channels = new Map<string, ExchangeChannel>();
  private readonly peers = new Map<string, Peer>();
  private up = false;
  private needFull = true;
  private fullWrites = 0;
  private rounds = 0;
  private failedRounds = 0;
  /** Round in flight: its number, so a late answer to a timed-out round is ignored. */
  private pending: number | undefined;
  private roundSeq = 0;
  private timer: TimerHandle | undefined;
  private state: 'new' | 'running' | 'closed' = 'new';
  /** sharedTime - localTime, from the last round (error: half its round trip). */
  private offsetMs = 0;
  private lease: { name: string; ttlMs: number; want: boolean } | undefined;
  private leaseHolder: string | undefined;
  private readonly idle: Set<() => void> = new Set();

  constructor(options: SharedStateExchangeOptions) {
    this.transport = options.transport;
    this.origin = options.origin;
    if (this.origin.length === 0) throw new Error('shared state origin must not be empty');
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? noopLogger;
    this.outages = new OutageLog({ logger: this.logger, origin: this.origin });
    this.syncIntervalMs = requirePositive('syncIntervalMs', options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS);
    const ttlIntervals = requirePositive('ttlIntervals', options.ttlIntervals ?? DEFAULT_TTL_INTERVALS);
    this.ttlMs = sharedStateTtlMs(this.syncIntervalMs, ttlIntervals);
    this.leaseTtlMs = this.syncIntervalMs * ttlIntervals;
    this.roundTimeoutMs = requirePositive('roundTimeoutMs', options.roundTimeoutMs ?? this.syncIntervalMs);
    this.observer = options.observer;
  }

  /** Adds a consumer's channel; ids must be unique. Register before `start()`. */
  register(channel: ExchangeChannel): void {
    if (channel.id.includes(CHANNEL_SEPARATOR) || this.channels.has(channel.id)) {
      throw new Error(`shared state channel id ${JSON.stringify(channel.id)} is taken or contains "${CHANNEL_SEPARATOR}"`);
    }
    this.channels.set(channel.id, channel);
  }

  /** Asks for (or gives up) the named lease at each round; `leaseHolder` says who holds it. */
  setLease(name: string, want: boolean): void {
    this.lease = { name, ttlMs: this.leaseTtlMs, want };
  }

  get isUp(): boolean {
    return this.up;
  }

  get currentLeaseHolder(): string | undefined {
    return this.up ? this.leaseHolder : undefined;
  }

  stats(): ExchangeStats {
    return {
      origin: this.origin,
      up: this.up,
      peers: this.up ? this.peers.size : 0,
      rounds: this.rounds,
      failedRounds: this.failedRounds,
      leaseHolder: this.currentLeaseHolder,
    };
  }

  toLocal(sharedMs: number): number {
    return sharedMs - this.offsetMs;
  }

  toShared(localMs: number): number {
    return localMs + this.offsetMs;
  }

  /** Starts syncing at once, then every interval. Idempotent. */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.tick();
  }

  /** Resolves after the next round completes (or fails): for tests and for a first view at start-up. */
  nextRound(): Promise<void> {
    return new Promise((resolve) => this.idle.add(resolve));
  }

  /** Stops syncing and withdraws own data (best effort). Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'running';
    this.state = 'closed';
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.settleIdle();
    if (!wasRunning) return;
    try {
      await this.transport.leave(this.origin, this.lease?.name);
    } catch (err: unknown) {
      this.logger.debug({ err }, 'shared state: could not withdraw own data on close');
    }
  }

  private tick(): void {
    if (this.state !== 'running') return;
    this.timer = this.clock.setTimeout(() => this.tick(), this.syncIntervalMs);
    if (this.pending === undefined) this.runRound();
  }

  private runRound(): void {
    const seq = ++this.roundSeq;
    this.pending = seq;
    const request = this.buildRequest();
    const sentAt = this.clock.now();
    const timeout = this.clock.setTimeout(() => {
      if (this.pending !== seq) return;
      this.pending = undefined;
      this.failed(new Error(`no answer within ${this.roundTimeoutMs} ms`), sentAt);
    }, this.roundTimeoutMs);
    this.transport.round(request).then(
      (reply) => {
        this.clock.clearTimeout(timeout);
        if (this.pending !== seq || this.state !== 'running') return;
        this.pending = undefined;
        this.succeeded(reply, sentAt);
      },
      (err: unknown) => {
        this.clock.clearTimeout(timeout);
        if (this.pending !== seq || this.state !== 'running') return;
        this.pending = undefined;
        this.failed(err, sentAt);
      },
    );
  }

  private buildRequest(): RoundRequest {
    const full = this.needFull;
    // Collected writes are gone from the channels: until a round succeeds, the next one must be full.
    this.needFull = true;
    if (full) this.fullWrites++;
    const set = new Map<string, string>();
    const del: string[] = [];
    const claims: BudgetClaim[] = [];
    for (const channel of this.channels.values()) {
      const writes = channel.collect(full);
      const prefix = channel.id + CHANNEL_SEPARATOR;
      for (const [k, v] of writes.set) set.set(prefix + k, v);
      if (!full) for (const k of writes.del) del.push(prefix + k);
      for (const c of writes.claims ?? []) claims.push({ ...c, field: prefix + c.field });
    }
    const known = new Map<string, string>();
    for (const [origin, peer] of this.peers) known.set(origin, peer.version);
    return {
      origin: this.origin,
      ttlMs: this.ttlMs,
      heartbeatMs: this.leaseTtlMs,
      full,
      epoch: `${this.fullWrites}`,
      set,
      del,
      known,
      lease: this.lease,
      ...(claims.length > 0 ? { claims } : {}),
    };
  }

  private succeeded(reply: RoundReply, sentAt: number): void {
    const now = this.clock.now();
    if (reply.kind === 'lost') {
      // Own data vanished (store restarted, or it expired while this replica was stopped): write it all now.
      this.observer?.onRound(now - sentAt, false);
      if (this.state === 'running') this.runRound();
      return;
    }
    this.needFull = false;
    this.rounds++;
    this.observer?.onRound(now - sentAt, true);
    this.offsetMs = reply.serverTimeMs - (sentAt + now) / 2;
    this.leaseHolder = reply.leaseHolder;
    if (!this.up) {
      this.up = true;
      this.outages.up(now, reply.peers.size);
    }
    const changed = new Set<string>();
    for (const origin of this.peers.keys()) if (!reply.peers.has(origin)) changed.add(origin);
    for (const origin of changed) this.peers.delete(origin);
    for (const [origin, p] of reply.peers) {
      const known = this.peers.get(origin);
      if (p.fields === undefined) {
        if (known !== undefined && known.stale !== p.stale) {
          known.stale = p.stale;
          changed.add(origin);
        }
        continue;
      }
      changed.add(origin);
      this.peers.set(origin, { version: p.version, stale: p.stale, channels: splitChannels(p.fields) });
    }
    this.publish(true, changed, reply.granted);
  }

  private failed(err: unknown, sentAt: number): void {
    this.failedRounds++;
    this.needFull = true;
    this.observer?.onRound(this.clock.now() - sentAt, false);
    if (this.up) {
      this.up = false;
      this.outages.down(this.clock.now(), err instanceof Error ? err.message : String(err));
      this.publish(false, new Set(this.peers.keys()));
    } else {
      this.outages.stillDown(this.clock.now());
    }
    this.settleIdle();
  }

  private publish(connected: boolean, changed: ReadonlySet<string>, granted?: ReadonlyMap<string, number>): void {
    const grants = granted !== undefined && granted.size > 0 ? splitChannels(granted) : undefined;
    for (const [id, channel] of this.channels) {
      const peers = new Map<string, ReadonlyMap<string, string>>();
      const stale = new Set<string>();
      for (const [origin, peer] of this.peers) {
        peers.set(origin, peer.channels.get(id) ?? EMPTY_FIELDS);
        if (peer.stale) stale.add(origin);
      }
      try {
        channel.apply({
          connected,
          peers,
          stale,
          changed,
          granted: grants?.get(id) ?? NO_GRANTS,
          toLocal: (ms) => this.toLocal(ms),
          toShared: (ms) => this.toShared(ms),
        });
      } catch (err: unknown) {
        this.logger.error({ err, channel: id }, 'shared state channel failed to apply a round');
      }
    }
    this.settleIdle();
  }

  private settleIdle(): void {
    const waiters = [...this.idle];
    this.idle.clear();
    for (const resolve of waiters) resolve();
  }
}

/** Splits `<channel>|<field>` keys by channel, with the channel-local field names. */
function splitChannels<V>(fields: ReadonlyMap<string, V>): Map<string, Map<string, V>> {
  const out = new Map<string, Map<string, V>>();
  for (const [k, v] of fields) {
    const cut = k.indexOf(CHANNEL_SEPARATOR);
    if (cut <= 0) continue;
    const id = k.slice(0, cut);
    let channel = out.get(id);
    if (channel === undefined) {
      channel = new Map();
      out.set(id, channel);
    }
    channel.set(k.slice(cut + 1), v);
  }
  return out;
}
