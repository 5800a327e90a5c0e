// Tick gate: emulates the Go reference's "one dispatch per 1 ms tick" on top of any SaturationSource. It reports
// the pool saturated unless a tick token is available; the caller consumes the token at dispatch (onDispatch) and
// a timer on the tick grid refills it.
import { type Clock, type TimerHandle } from '../../src/core/index.js';
import { type SaturationSource } from '../../src/flowcontrol/index.js';

export const GO_TICK_MS = 1;

export class TickGate implements SaturationSource {
  private token = true;
  private timer: TimerHandle | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly unsubscribeInner: () => void;
  private consumed = 0;

  constructor(
    private readonly inner: SaturationSource,
    private readonly clock: Clock,
    private readonly tickMs: number = GO_TICK_MS,
  ) {
    this.unsubscribeInner = inner.onChange(() => this.emit());
  }

  /** The inner figure while a token is available; otherwise at least 1.0 (every static ceiling is reached). */
  saturation(): number {
    const s = this.inner.saturation();
    return this.token ? s : Math.max(1, s);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Spends this tick's dispatch; the token returns at the next tick boundary (a fixed grid, as a ticker). */
  consume(): void {
    this.token = false;
    this.consumed++;
    if (this.timer !== undefined) return;
    const now = this.clock.now();
    const next = (Math.floor(now / this.tickMs) + 1) * this.tickMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.token = true;
      this.emit();
    }, next - now);
  }

  /** Dispatches admitted through the gate so far. */
  get dispatches(): number {
    return this.consumed;
  }

  close(): void {
    this.unsubscribeInner();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}
