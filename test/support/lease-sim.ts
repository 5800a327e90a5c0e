// Simulation pieces for leader-election tests in virtual time: a Lease store with request latency (each write
// applied atomically with optimistic concurrency, as the API server does), and a per-process clock and store
// view that can be paused (a GC pause, SIGSTOP, a starved VM): while paused, nothing of that process runs,
// neither its timers nor the handling of answers that arrive.
import { type Clock, type ManualClock, type Random, type TimerHandle } from '../../src/core/index.js';
import { type LeaseRecord, type LeaseStore, type StoredLease, LeaseConflictError } from '../../src/kubernetes/index.js';

export class SimulatedLeaseStore {
  private current: StoredLease | undefined;
  private version = 0;
  /** Writes applied, for assertions. */
  writes = 0;

  constructor(
    private readonly clock: ManualClock,
    private readonly random: Random,
    /** One-way latency is drawn in [0, maxLatencyMs / 2]; a round trip is at most maxLatencyMs. */
    readonly maxLatencyMs: number,
  ) {}

  peek(): StoredLease | undefined {
    return this.current;
  }

  /** Applies `op` at the server after one leg of latency and answers after another. */
  request<T>(op: () => T): Promise<T> {
    const leg = (): number => this.random.next() * (this.maxLatencyMs / 2);
    return new Promise<T>((resolve, reject) => {
      this.clock.setTimeout(() => {
        let result: { ok: true; value: T } | { ok: false; err: unknown };
        try {
          result = { ok: true, value: op() };
        } catch (err) {
          result = { ok: false, err };
        }
        this.clock.setTimeout(() => (result.ok ? resolve(result.value) : reject(result.err instanceof Error ? result.err : new Error(String(result.err)))), leg());
      }, leg());
    });
  }

  get(): StoredLease | undefined {
    return this.current;
  }

  create(record: LeaseRecord): StoredLease {
    if (this.current !== undefined) throw new LeaseConflictError('already exists');
    return this.put(record);
  }

  update(record: LeaseRecord, resourceVersion: string): StoredLease {
    if (this.current === undefined || this.current.resourceVersion !== resourceVersion) throw new LeaseConflictError('stale resourceVersion');
    return this.put(record);
  }

  private put(record: LeaseRecord): StoredLease {
    this.writes++;
    this.current = { record: { ...record }, resourceVersion: String(++this.version) };
    return this.current;
  }
}

/** One process's view: its own clock and store handle, both frozen while the process is paused. */
export class PausableProcess {
  private paused = false;
  private held: (() => void)[] = [];
  readonly clock: Clock;
  readonly store: LeaseStore;

  constructor(base: ManualClock, sim: SimulatedLeaseStore) {
    const gate = (fn: () => void): void => {
      if (this.paused) this.held.push(fn);
      else fn();
    };
    this.clock = {
      now: () => base.now(),
      setTimeout: (fn, delayMs) => {
        const cell = { cancelled: false };
        base.setTimeout(() => gate(() => (cell.cancelled ? undefined : fn())), delayMs);
        return cell as unknown as TimerHandle;
      },
      clearTimeout: (handle) => {
        (handle as unknown as { cancelled: boolean }).cancelled = true;
      },
      defer: (fn) => base.setTimeout(() => gate(fn), 0),
    };
    const through = <T>(p: Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        p.then(
          (v) => gate(() => resolve(v)),
          (err: unknown) => gate(() => reject(err instanceof Error ? err : new Error(String(err)))),
        );
      });
    this.store = {
      get: () => through(sim.request(() => sim.get())),
      create: (record) => through(sim.request(() => sim.create(record))),
      update: (record, rv) => through(sim.request(() => sim.update(record, rv))),
    };
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const fn of held) fn();
  }
}

/** Runs virtual time to `end`, letting promise chains settle after every timer, and calls `check` each step. */
export async function runVirtual(clock: ManualClock, end: number, check: () => void): Promise<void> {
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  for (;;) {
    await settle();
    check();
    const due = clock.nextDue();
    if (due === undefined || due > end) {
      clock.advanceTo(end);
      await settle();
      check();
      return;
    }
    clock.advanceTo(due);
  }
}
