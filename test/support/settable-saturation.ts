// A saturation source whose value the test sets by hand; notifies listeners on every change, as a detector would.
import { type SaturationSource } from '../../src/flowcontrol/index.js';

export class SettableSaturation implements SaturationSource {
  private value: number;
  private readonly listeners = new Set<() => void>();

  constructor(initial = 0) {
    this.value = initial;
  }

  saturation(): number {
    return this.value;
  }

  set(value: number): void {
    this.value = value;
    for (const l of this.listeners) l();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

/**
 * Saturation = in-flight / limit, where in-flight counts leases the test holds: a concurrency limit, the shape of
 * the benchmark's backlog and of the pool's real gate.
 */
export class ConcurrencyLimitSaturation implements SaturationSource {
  inflight = 0;
  private readonly listeners = new Set<() => void>();

  constructor(public limit: number) {}

  saturation(): number {
    return this.inflight / this.limit;
  }

  begin(): void {
    this.inflight++;
  }

  end(): void {
    this.inflight--;
    for (const l of this.listeners) l();
  }

  setLimit(limit: number): void {
    this.limit = limit;
    for (const l of this.listeners) l();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
