// Several flow-controller replicas behind one pool gate, in virtual time: each with its own controller and
// weighted-fair state, sharing fairness through SharedStateExchanges over an in-memory hub (or not at all, the
// "independent replicas" baseline). Records every dispatch with its replica and time, for the bound's checks.
import { ManualClock } from '../../src/core/index.js';
import { FlowController, type Lease, type SaturationSource } from '../../src/flowcontrol/index.js';
import { FairnessChannel, MemoryHub, SharedStateExchange } from '../../src/sharedstate/index.js';
import { flushMicrotasks } from './flush.js';

/**
 * The pool's gate: a concurrency limit over every replica's dispatches. Listeners are told of a change in an order
 * that rotates, so no replica is always the first to see freed capacity (a fixed order would hand one replica
 * every slot and say nothing about fairness).
 */
class PoolGate implements SaturationSource {
  inflight = 0;
  private readonly listeners: (() => void)[] = [];
  private turn = 0;

  constructor(public limit: number) {}

  saturation(): number {
    return this.inflight / this.limit;
  }

  onChange(listener: () => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  begin(): void {
    this.inflight++;
  }

  setLimit(limit: number): void {
    this.limit = limit;
    const n = this.listeners.length;
    this.turn = (this.turn + 1) % Math.max(1, n);
    for (let i = 0; i < n; i++) this.listeners[(this.turn + i) % n]!();
  }
}

export interface SimDispatch {
  readonly tenant: string;
  readonly replica: number;
  /** Weighted cost: estimated tokens / weight. */
  readonly charge: number;
  readonly at: number;
}

export interface ReplicaSimOptions {
  readonly replicas: number;
  readonly shared: boolean;
  readonly syncIntervalMs: number;
  readonly latencyMs: number;
  readonly weights?: Readonly<Record<string, number>>;
}

export class ReplicaSim {
  readonly clock = new ManualClock(0);
  readonly hub = new MemoryHub(this.clock);
  readonly gate = new PoolGate(1);
  readonly controllers: FlowController[] = [];
  readonly exchanges: SharedStateExchange[] = [];
  readonly dispatches: SimDispatch[] = [];
  private readonly leases: { lease: Lease }[] = [];
  private readonly queued = new Map<string, number>();
  private readonly weights: Readonly<Record<string, number>>;
  private opened = false;

  constructor(readonly options: ReplicaSimOptions) {
    this.weights = options.weights ?? {};
    this.hub.latencyMs = options.latencyMs;
    for (let r = 0; r < options.replicas; r++) {
      const channel = options.shared ? new FairnessChannel() : undefined;
      if (channel !== undefined) {
        const exchange = new SharedStateExchange({
          transport: this.hub.transport(),
          origin: `replica-${r}`,
          clock: this.clock,
          syncIntervalMs: options.syncIntervalMs,
          roundTimeoutMs: options.syncIntervalMs,
        });
        exchange.register(channel);
        this.exchanges.push(exchange);
      }
      this.controllers.push(
        new FlowController({
          saturation: this.gate,
          clock: this.clock,
          defaultTtlMs: Infinity,
          bandTemplate: { fairness: 'weighted-fair', maxRequests: Infinity },
          tenantWeights: this.weights,
          fairnessExchange: channel,
          fallbackIntervalMs: 5,
        }),
      );
    }
    this.gate.inflight = 1; // closed until the test opens it
  }

  /** Starts the exchanges and lets a few syncs run, so every replica sees every backlog before the gate opens. */
  async start(): Promise<void> {
    for (const e of this.exchanges) e.start();
    await this.advance(3 * (this.options.syncIntervalMs + this.options.latencyMs));
  }

  enqueue(replica: number, tenant: string, cost: number): void {
    this.queued.set(tenant, (this.queued.get(tenant) ?? 0) + 1);
    const weight = this.weights[tenant] ?? 1;
    const ctl = this.controllers[replica]!;
    void ctl.enqueueAndWait(
      { id: `${tenant}-${this.dispatches.length}`, fairnessId: tenant, priority: 0, byteSize: 1, estimatedCost: cost },
      {
        onDispatch: (lease) => {
          this.dispatches.push({ tenant, replica, charge: cost / weight, at: this.clock.now() });
          this.queued.set(tenant, (this.queued.get(tenant) ?? 0) - 1);
          this.leases.push({ lease });
          this.gate.begin();
        },
      },
    );
  }

  queuedOf(tenant: string): number {
    return this.queued.get(tenant) ?? 0;
  }

  /** Opens the gate to `limit` concurrent requests after releasing `releases` of the oldest leases. */
  async step(limit: number, releases: number, advanceMs: number): Promise<void> {
    if (!this.opened) {
      this.opened = true;
      this.gate.inflight = 0;
    }
    for (let i = 0; i < releases && this.leases.length > 0; i++) {
      this.leases.shift()!.lease.release();
      this.gate.inflight--;
    }
    this.gate.setLimit(limit);
    await flushMicrotasks(3);
    await this.advance(advanceMs);
  }

  /** Advances virtual time in 1 ms steps, letting rounds, timers and dispatch cycles run. */
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      this.clock.advance(Math.min(1, end - this.clock.now()));
      await flushMicrotasks(3);
    }
  }

  async close(): Promise<void> {
    for (const c of this.controllers) await c.close();
    for (const e of this.exchanges) await e.close();
  }
}

/** Pool-wide weighted service per tenant after each dispatch: the largest gap between two tenants in `tenants`. */
export function worstServiceGap(dispatches: readonly SimDispatch[], tenants: readonly string[], until: number): number {
  const s = new Map(tenants.map((t) => [t, 0]));
  let worst = 0;
  for (let k = 0; k < until; k++) {
    const d = dispatches[k]!;
    if (!s.has(d.tenant)) continue;
    s.set(d.tenant, s.get(d.tenant)! + d.charge);
    const v = [...s.values()];
    worst = Math.max(worst, Math.max(...v) - Math.min(...v));
  }
  return worst;
}

/** Largest weighted service the whole pool dispatched within any window of `windowMs` (among the first `until`). */
export function maxServiceInWindow(dispatches: readonly SimDispatch[], windowMs: number, until: number, keep: (d: SimDispatch) => boolean = () => true): number {
  let worst = 0;
  let sum = 0;
  let lo = 0;
  for (let hi = 0; hi < until; hi++) {
    const d = dispatches[hi]!;
    if (keep(d)) sum += d.charge;
    while (dispatches[lo]!.at <= d.at - windowMs) {
      if (keep(dispatches[lo]!)) sum -= dispatches[lo]!.charge;
      lo++;
    }
    worst = Math.max(worst, sum);
  }
  return worst;
}
