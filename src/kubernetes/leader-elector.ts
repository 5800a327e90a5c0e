// Active-passive leader election on a Lease, with client-go's timings and rules: a candidate takes the lease
// only after seeing the same record unchanged for a whole lease duration by its own clock (no trust in other
// machines' clocks), writes with optimistic concurrency (a stale resourceVersion loses), and a leader that has
// not renewed within the renew deadline stops leading, a lease duration minus renew deadline before anyone may
// take over.
//
// Safety (never two leaders at once) does not rest on timers running on time: `isLeader()` is computed from the
// clock at the moment it is asked (leading, and now < send time of the last successful renewal + renew deadline).
// A process that was paused (GC, SIGSTOP, a starved VM) answers "not leader" the instant it resumes. A rival can
// take over only at >= (time it received that renewal) + lease duration, later than the same send time + renew
// deadline, since the renew deadline is shorter than the lease duration and the record is received after it is
// sent. Liveness: a candidate wakes exactly when the lease it observes expires, so after the leader dies one
// candidate leads within lease duration + retry period x (1 + jitter) + one request's latency.
import { type Clock, type Logger, type Random, type TimerHandle, InvalidArgumentError, mathRandom, noopLogger, systemClock } from '../core/index.js';
import { classifyApiError } from './api-errors.js';
import { type LeaseRecord, type LeaseStore, type StoredLease, LeaseConflictError } from './lease-store.js';

/** client-go's defaults (and controller-runtime's, which the Go EPP uses). */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
/** Candidates' retry period is stretched by up to this fraction, so replicas do not poll in lock-step. */
export const DEFAULT_RETRY_JITTER = 0.2;

export interface LeaderElectorOptions {
  readonly store: LeaseStore;
  /** Unique per replica: the pod name (plus a random suffix, so a restarted pod is a new candidate). */
  readonly identity: string;
  /** @default 15000 */
  readonly leaseDurationMs?: number;
  /** @default 10000 */
  readonly renewDeadlineMs?: number;
  /** @default 2000 */
  readonly retryPeriodMs?: number;
  /** @default 0.2 */
  readonly retryJitter?: number;
  /** A lease request slower than this counts as failed. @default max(retryPeriodMs, renewDeadlineMs / 2) */
  readonly requestTimeoutMs?: number;
  readonly clock?: Clock;
  /** Wall-clock milliseconds for the record's timestamps (informative only; expiry never reads them). @default Date.now */
  readonly wallTime?: () => number;
  readonly random?: Random;
  readonly logger?: Logger;
}

type Listener = (leader: boolean) => void;

/** Satisfies src/server's Leadership port (which server owns: it is the consumer). */
export class LeaderElector {
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly wallTime: () => number;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly jitter: number;
  private readonly timeoutMs: number;
  private readonly listeners = new Set<Listener>();
  private running = false;
  private leading = false;
  /** Clock time at which the last successful acquire/renew request was sent. */
  private renewedAt = Number.NEGATIVE_INFINITY;
  private observed: { key: string; at: number; durationMs: number } | undefined;
  private tickTimer: TimerHandle | undefined;
  private deadlineTimer: TimerHandle | undefined;
  private lastReported = false;
  private stored: StoredLease | undefined;

  constructor(private readonly o: LeaderElectorOptions) {
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? mathRandom;
    this.logger = (o.logger ?? noopLogger).child({ identity: o.identity });
    this.wallTime = o.wallTime ?? Date.now;
    this.leaseMs = o.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = o.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryMs = o.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    this.jitter = o.retryJitter ?? DEFAULT_RETRY_JITTER;
    // Two attempts fit in the renew deadline even when the API server answers slowly.
    this.timeoutMs = o.requestTimeoutMs ?? Math.max(this.retryMs, this.renewDeadlineMs / 2);
    if (o.identity === '') throw new InvalidArgumentError('identity', o.identity, 'a non-empty string');
    if (!(this.retryMs > 0)) throw new InvalidArgumentError('retryPeriodMs', this.retryMs, '> 0');
    if (!(this.renewDeadlineMs > this.retryMs)) {
      throw new InvalidArgumentError('renewDeadlineMs', this.renewDeadlineMs, `greater than retryPeriodMs (${this.retryMs})`);
    }
    if (!(this.leaseMs > this.renewDeadlineMs)) {
      throw new InvalidArgumentError('leaseDurationMs', this.leaseMs, `greater than renewDeadlineMs (${this.renewDeadlineMs})`);
    }
    if (this.leaseMs % 1000 !== 0) throw new InvalidArgumentError('leaseDurationMs', this.leaseMs, 'whole seconds (the Lease stores seconds)');
  }

  get identity(): string {
    return this.o.identity;
  }

  /** Leading, and the last renewal is recent enough; evaluated now, so a resumed process is never stale. */
  isLeader(): boolean {
    return this.leading && this.clock.now() < this.renewedAt + this.renewDeadlineMs;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Starts campaigning (the first attempt runs at once). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stops campaigning. A leader stops leading first, then releases the lease (holder cleared, duration 1 s) so a
   * standby takes over within one retry period instead of a whole lease duration.
   */
  async stop(release = true): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.tickTimer !== undefined) this.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    const wasLeading = this.isLeader();
    this.setLeading(false);
    const stored = this.stored;
    if (release && wasLeading && stored !== undefined && stored.record.holderIdentity === this.o.identity) {
      const now = new Date(this.wallTime()).toISOString();
      const record: LeaseRecord = { ...stored.record, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now };
      try {
        await this.timed(this.o.store.update(record, stored.resourceVersion));
        this.logger.info({}, 'released the leader lease');
      } catch (err) {
        this.logger.warn({ error: classifyApiError(err).message }, 'could not release the leader lease; it expires on its own');
      }
    }
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.tickTimer = this.clock.setTimeout(() => {
      this.tickTimer = undefined;
      void this.tick();
    }, delayMs);
  }

  private candidateDelay(): number {
    return this.retryMs * (1 + this.jitter * this.random.next());
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    const sentAt = this.clock.now();
    let next = this.candidateDelay();
    try {
      const acquired = await this.tryAcquireOrRenew();
      if (!this.running) return;
      if (acquired) {
        this.renewedAt = sentAt;
        this.setLeading(true);
        next = this.retryMs;
      } else {
        this.setLeading(false);
        // Wake exactly when the observed lease would expire, if that is sooner than the next retry.
        const o = this.observed;
        if (o !== undefined) next = Math.max(0, Math.min(next, o.at + o.durationMs - this.clock.now()));
      }
    } catch (err) {
      if (!this.running) return;
      const c = classifyApiError(err);
      this.logger.warn({ error: c.message, status: c.status }, this.leading ? 'could not renew the leader lease' : 'could not read the leader lease');
      // A leader keeps leading until its renew deadline passes (isLeader() turns false by itself; the timer tells).
      next = this.leading ? this.retryMs : next;
    }
    this.armDeadline();
    this.schedule(next);
  }

  /** One round of client-go's tryAcquireOrRenew. True when we hold the lease after it. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const wallNow = new Date(this.wallTime()).toISOString();
    const current = await this.timed(this.o.store.get());
    const received = this.clock.now();
    if (current === undefined) {
      const record: LeaseRecord = {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: this.leaseMs / 1000,
        acquireTime: wallNow,
        renewTime: wallNow,
        leaseTransitions: 0,
      };
      try {
        this.stored = await this.timed(this.o.store.create(record));
      } catch (err) {
        if (err instanceof LeaseConflictError) return false;
        throw err;
      }
      this.logger.info({}, 'acquired the leader lease (created)');
      return true;
    }
    this.stored = current;
    const r = current.record;
    const key = `${current.resourceVersion}|${r.holderIdentity}|${r.renewTime ?? ''}`;
    if (this.observed?.key !== key) {
      this.observed = { key, at: received, durationMs: Math.max(0, r.leaseDurationSeconds) * 1000 };
    }
    const mine = r.holderIdentity === this.o.identity;
    const held = r.holderIdentity !== '' && !mine;
    if (held && received < this.observed.at + this.observed.durationMs) return false;
    const record: LeaseRecord = {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: this.leaseMs / 1000,
      acquireTime: mine ? r.acquireTime : wallNow,
      renewTime: wallNow,
      leaseTransitions: mine ? r.leaseTransitions : r.leaseTransitions + 1,
    };
    try {
      this.stored = await this.timed(this.o.store.update(record, current.resourceVersion));
    } catch (err) {
      if (err instanceof LeaseConflictError) return false;
      throw err;
    }
    if (!mine || !this.leading) this.logger.info({ previous: r.holderIdentity, transitions: record.leaseTransitions }, 'acquired the leader lease');
    return true;
  }

  /** Rejects a request that takes longer than the request timeout (its late answer is ignored). */
  private timed<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => reject(new Error(`lease request timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
      p.then(
        (v) => {
          this.clock.clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          this.clock.clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** A leader is told the moment its renew deadline passes without a renewal. */
  private armDeadline(): void {
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (!this.leading) return;
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      if (!this.isLeader() && this.leading) {
        this.logger.warn({ renewDeadlineMs: this.renewDeadlineMs }, 'renew deadline passed; stepping down');
        this.setLeading(false);
      }
    }, Math.max(0, this.renewedAt + this.renewDeadlineMs - this.clock.now()));
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    if (!leading && this.deadlineTimer !== undefined) {
      this.clock.clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
    const now = this.isLeader();
    if (now === this.lastReported) return;
    this.lastReported = now;
    if (!now) this.logger.warn({}, 'no longer the leader');
    for (const listener of [...this.listeners]) {
      try {
        listener(now);
      } catch (err) {
        this.logger.error({ err }, 'leadership listener threw');
      }
    }
  }
}
