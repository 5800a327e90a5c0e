// Saturation sources for the benchmark (mirrors test/support, which bench code may not import): an always-open
// gate, a gate set by hand, and a concurrency limit (saturation = in flight / limit).
import { type SaturationSource } from '../../src/flowcontrol/index.js';

abstract class NotifyingSource implements SaturationSource {
  private readonly listeners = new Set<() => void>();

  abstract saturation(): number;

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected notify(): void {
    for (const l of this.listeners) l();
  }
}

/** Free flow: the pool is never saturated, so every request is dispatched at once. */
export class FreeSaturation extends NotifyingSource {
  saturation(): number {
    return 0;
  }
}

/** A gate opened and closed by hand: 0 (open) or 1 (closed); every change is signalled, as a detector would. */
export class GateSaturation extends NotifyingSource {
  private value: number;

  constructor(closed: boolean) {
    super();
    this.value = closed ? 1 : 0;
  }

  saturation(): number {
    return this.value;
  }

  set(closed: boolean): void {
    this.value = closed ? 1 : 0;
    this.notify();
  }
}

/** Saturation = in flight / limit: counted up at dispatch, down (and signalled) when a lease is released. */
export class ConcurrencyLimitSaturation extends NotifyingSource {
  inflight = 0;

  constructor(readonly limit: number) {
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
}
