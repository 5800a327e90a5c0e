// Drives a FlowController through a random trace in virtual time and records everything a property needs.
import { ManualClock } from '../../src/core/index.js';
import {
  FlowController,
  type FlowControllerOptions,
  type Lease,
  type Outcome,
  type OutcomeEvent,
} from '../../src/flowcontrol/index.js';
import { flushMicrotasks } from './flush.js';
import { ConcurrencyLimitSaturation } from './settable-saturation.js';

export type TraceStep =
  | { op: 'arrive'; tenant: number; priority: number; cost: number; bytes: number; ttlMs?: number; cancellable: boolean }
  | { op: 'cancel'; pick: number }
  | { op: 'advance'; ms: number }
  | { op: 'limit'; limit: number }
  | { op: 'release'; pick: number; actual?: number };

export interface Submitted {
  readonly index: number;
  readonly tenant: string;
  readonly priority: number;
  readonly cost: number;
  readonly arrivedAt: number;
  readonly ttlMs: number | undefined;
  readonly abort: AbortController | undefined;
  outcomes: Outcome[];
  dispatchHooks: number;
  dispatchedAt: number | undefined;
  lease: Lease | undefined;
}

export interface DispatchRecord {
  readonly index: number;
  readonly priority: number;
  readonly tenant: string;
  readonly cost: number;
  readonly at: number;
  /** Saturation seen at the moment of dispatch, before this request counted. */
  readonly saturation: number;
  /** Highest priority that still had queued work at that moment (after removing this request). */
  readonly highestQueuedPriority: number | undefined;
  readonly ceiling: number;
  /** Position of the request's band among live bands, highest first (0 = top). */
  readonly rank: number;
}

/** Counts abort listeners still attached, to prove the controller removes each one it adds. */
export class ListenerCounter {
  live = 0;
  wrap(ac: AbortController): AbortController {
    const signal = ac.signal;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    type Listener = Parameters<AbortSignal['addEventListener']>[1];
    const wrappers = new Map<Listener, () => void>();
    signal.addEventListener = ((type: 'abort', l: Listener, o?: Parameters<AbortSignal['addEventListener']>[2]) => {
      if (wrappers.has(l) || typeof l !== 'function') throw new Error('test harness expects function listeners, once');
      this.live++;
      // A `once` listener that fires removes itself; count that too.
      const wrapped = (): void => {
        if (wrappers.delete(l)) this.live--;
        (l as () => void)();
      };
      wrappers.set(l, wrapped);
      add(type, wrapped, o);
    });
    signal.removeEventListener = ((type: 'abort', l: Listener) => {
      const wrapped = wrappers.get(l);
      if (wrapped === undefined) return;
      wrappers.delete(l);
      this.live--;
      remove(type, wrapped);
    });
    return ac;
  }
}

/** A virtual clock whose timers fire late, as real timers do under load. */
class LateClock extends ManualClock {
  constructor(private readonly latenessMs: number) {
    super(0);
  }

  override setTimeout(fn: () => void, delayMs: number) {
    return super.setTimeout(fn, delayMs + this.latenessMs);
  }
}

export class FlowHarness {
  readonly clock: ManualClock;
  readonly saturation: ConcurrencyLimitSaturation;
  readonly fc: FlowController;
  readonly submitted: Submitted[] = [];
  readonly dispatches: DispatchRecord[] = [];
  readonly events: OutcomeEvent[] = [];
  readonly listeners = new ListenerCounter();
  /** Priority of the request being enqueued right now (displacement happens synchronously inside enqueue). */
  arrivingPriority: number | undefined;
  readonly displacementViolations: string[] = [];
  /** Queued requests per flow (tenant@priority), counted synchronously from arrivals and outcome events. */
  private readonly queuedByFlow = new Map<string, number>();
  private arrivingFlow: string | undefined;
  readonly fairShareEvictions: number[] = [];
  readonly fairShareViolations: string[] = [];
  /** Arrivals that were refused yet evicted someone on their way out (must never happen). */
  readonly refusedButEvicted: number[] = [];
  private arrivalEvents: OutcomeEvent[] | undefined;

  constructor(options: Partial<FlowControllerOptions> = {}, initialLimit = 4, timerLatenessMs = 0) {
    this.clock = timerLatenessMs > 0 ? new LateClock(timerLatenessMs) : new ManualClock(0);
    this.saturation = new ConcurrencyLimitSaturation(initialLimit);
    this.fc = new FlowController({
      clock: this.clock,
      saturation: this.saturation,
      fallbackIntervalMs: 1_000_000,
      observer: {
        onOutcome: (e) => {
          this.events.push(e);
          this.arrivalEvents?.push(e);
          const key = `${e.fairnessId}@${e.priority}`;
          if (e.reason === 'fair-share') this.checkFairShare(key, e.fairnessId, options.tenantWeights ?? {});
          this.queuedByFlow.set(key, (this.queuedByFlow.get(key) ?? 0) - 1);
          if (e.reason === 'displaced') {
            if (this.arrivingPriority === undefined || e.priority >= this.arrivingPriority) {
              this.displacementViolations.push(`displaced priority ${e.priority} for ${String(this.arrivingPriority)}`);
            }
          }
        },
        onDispatchCycle: () => {},
        onRelease: () => {},
      },
      ...options,
    });
  }

  /** A fair-share eviction must hit a flow holding more queue per unit of weight than the newcomer's would. */
  private checkFairShare(victimKey: string, victimTenant: string, weights: Readonly<Record<string, number>>): void {
    const arriving = this.arrivingFlow;
    if (arriving === undefined) {
      this.fairShareViolations.push(`fair-share eviction of ${victimKey} outside an arrival`);
      return;
    }
    const newcomerTenant = arriving.split('@')[0] ?? '';
    const victimShare = (this.queuedByFlow.get(victimKey) ?? 0) / (weights[victimTenant] ?? 1);
    const newcomerShare = (this.queuedByFlow.get(arriving) ?? 0) / (weights[newcomerTenant] ?? 1);
    this.fairShareEvictions.push(victimShare - newcomerShare);
    if (victimKey.split('@')[1] !== arriving.split('@')[1]) this.fairShareViolations.push(`${victimKey} evicted for ${arriving}: other band`);
    if (!(victimShare > newcomerShare)) this.fairShareViolations.push(`${victimKey} (${victimShare}) evicted for ${arriving} (${newcomerShare})`);
  }

  /** The ceiling the controller applies to `priority`'s band now. */
  ceilingOf(priority: number): number {
    return this.fc.stats().bands.find((b) => b.priority === priority)?.ceiling ?? 1.0;
  }

  async step(s: TraceStep): Promise<void> {
    switch (s.op) {
      case 'arrive':
        this.arrive(s);
        break;
      case 'cancel': {
        const pending = this.submitted.filter((x) => x.outcomes.length === 0 && x.abort !== undefined);
        pending[s.pick % Math.max(1, pending.length)]?.abort?.abort();
        break;
      }
      case 'advance':
        this.clock.advance(s.ms);
        break;
      case 'limit':
        this.saturation.setLimit(s.limit);
        break;
      case 'release': {
        const live = this.submitted.filter((x) => x.lease !== undefined);
        const victim = live[s.pick % Math.max(1, live.length)];
        if (victim?.lease !== undefined) {
          const lease = victim.lease;
          victim.lease = undefined;
          lease.release(s.actual !== undefined ? { promptTokens: s.actual, outputTokens: 0 } : undefined);
          this.saturation.end();
        }
        break;
      }
    }
    await flushMicrotasks(3);
  }

  arrive(s: Extract<TraceStep, { op: 'arrive' }>): Submitted {
    const ac = s.cancellable ? this.listeners.wrap(new AbortController()) : undefined;
    const sub: Submitted = {
      index: this.submitted.length,
      tenant: `t${s.tenant}`,
      priority: s.priority,
      cost: s.cost,
      arrivedAt: this.clock.now(),
      ttlMs: s.ttlMs,
      abort: ac,
      outcomes: [],
      dispatchHooks: 0,
      dispatchedAt: undefined,
      lease: undefined,
    };
    this.submitted.push(sub);
    this.arrivingPriority = s.priority;
    this.arrivingFlow = `${sub.tenant}@${s.priority}`;
    this.queuedByFlow.set(this.arrivingFlow, (this.queuedByFlow.get(this.arrivingFlow) ?? 0) + 1);
    const during: OutcomeEvent[] = [];
    this.arrivalEvents = during;
    const p = this.fc.enqueueAndWait(
      { id: `r${sub.index}`, fairnessId: sub.tenant, priority: s.priority, byteSize: s.bytes, estimatedCost: s.cost, ttlMs: s.ttlMs },
      {
        signal: ac?.signal,
        onDispatch: (lease) => {
          const sat = this.saturation.saturation();
          const bands = this.fc.stats().bands;
          const queuedBands = bands.filter((b) => b.queuedRequests > 0);
          this.dispatches.push({
            index: sub.index,
            priority: s.priority,
            tenant: sub.tenant,
            cost: s.cost,
            at: this.clock.now(),
            saturation: sat,
            highestQueuedPriority: queuedBands[0]?.priority,
            ceiling: this.ceilingOf(s.priority),
            rank: bands.findIndex((b) => b.priority === s.priority),
          });
          sub.dispatchHooks++;
          sub.dispatchedAt = this.clock.now();
          sub.lease = lease;
          this.saturation.begin();
        },
      },
    );
    this.arrivingPriority = undefined;
    this.arrivingFlow = undefined;
    this.arrivalEvents = undefined;
    const refused = during.some((e) => e.kind === 'rejected');
    if (refused && during.some((e) => e.reason === 'displaced' || e.reason === 'fair-share')) this.refusedButEvicted.push(sub.index);
    void p.then((o) => sub.outcomes.push(o));
    return sub;
  }

  async close(): Promise<void> {
    await this.fc.close();
    await flushMicrotasks(3);
  }
}
