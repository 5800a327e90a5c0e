// Saturation sources driven by the test: notify listeners on every change, as a real detector would.
import { type SaturationSource } from '../../src/flowcontrol/index.js';

/** Listener bookkeeping shared by the fakes below; `listenerCount` lets tests prove unsubscription. */
abstract class NotifyingSource implements SaturationSource {
  private readonly listeners = new Set<() => void>();

  abstract saturation(): number;

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  protected notify(): void {
    for (const l of this.listeners) l();
  }
}

/** A saturation value the test sets by hand. */
export class SettableSaturation extends NotifyingSource {
  constructor(private value = 0) {
    super();
  }

  saturation(): number {
    return this.value;
  }

  set(value: number): void {
    this.value = value;
    this.notify();
  }
}

/**
 * Saturation = in-flight / limit, where in-flight counts leases the test holds: a concurrency limit, the shape of
 * the benchmark's backlog and of the pool's real gate.
 */
export class ConcurrencyLimitSaturation extends NotifyingSource {
  inflight = 0;

  constructor(public limit: number) {
    super();
  }

  saturation(): number {
    return this.inflight / this.limit;
  }

  begin(): void {
    this.inflight++;
  }

  end(): void {
    this.inflight--;
    this.notify();
  }

  setLimit(limit: number): void {
    this.limit = limit;
    this.notify();
  }
}
