// Pool availability: turns the data layer's reachability verdict (every endpoint refusing, or frozen: accepting
// connections and answering nothing) into flow control's "hold or answer now" switch, feeds it the front ends'
// evidence (connect failures, answered requests), and logs once per change.
import { type Logger } from '../core/index.js';
import { type PoolReachability, type ReachabilityState } from '../datalayer/index.js';
import { type GatewayObserver } from '../gateway/index.js';

export interface AvailabilitySwitch {
  setUnavailable(message: string | undefined): void;
}

export interface PoolAvailabilityOptions {
  readonly reachability: PoolReachability;
  readonly flowControl: AvailabilitySwitch;
  readonly logger: Logger;
}

export class PoolAvailability {
  /** Evidence from the front ends: a refused connection counts against the endpoint, any response for it. */
  readonly observer: GatewayObserver;
  private readonly unsubscribe: () => void;

  constructor(private readonly o: PoolAvailabilityOptions) {
    this.observer = {
      onDecision: () => {},
      onResponse: () => {},
      onConnectFailure: (event) => o.reachability.failed(event.endpoint, 'connection refused by the model server'),
      onServed: (event) => o.reachability.answered(event.endpoint),
    };
    this.unsubscribe = o.reachability.subscribe((state) => this.changed(state));
  }

  /** What /readyz adds while the pool is unreachable (it stays ready: see the README). */
  note(): string | undefined {
    const state = this.o.reachability.current();
    return state.reachable ? undefined : this.message(state);
  }

  close(): void {
    this.unsubscribe();
    this.o.reachability.close();
  }

  private changed(state: ReachabilityState): void {
    if (state.reachable) {
      this.o.flowControl.setUnavailable(undefined);
      this.o.logger.info({ endpoints: state.endpoints }, 'an endpoint of the pool answers again: requests are held and routed as usual');
      return;
    }
    const message = this.message(state);
    this.o.flowControl.setUnavailable(message);
    this.o.logger.warn(
      { endpoints: state.endpoints, kind: state.kind, lastFailure: state.lastFailure, afterMs: state.afterMs },
      `pool ${state.kind ?? 'unreachable'}: queued and new requests are answered 503 pool-unreachable until an endpoint answers`,
    );
  }

  private message(state: ReachabilityState): string {
    const last = state.lastFailure !== undefined ? `; last: ${state.lastFailure.endpoint}: ${state.lastFailure.reason}` : '';
    const how =
      state.kind === 'unresponsive'
        ? 'connections refused, or accepted with not a byte back within the scrape timeout: pods frozen or hung'
        : 'connections refused, reset or timing out';
    return `no endpoint of the pool (${state.endpoints}) has answered for ${state.afterMs ?? 0} ms (${how}${last})`;
  }
}
