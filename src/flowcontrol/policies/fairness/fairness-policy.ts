// Fairness policies: which flow of a band goes next. The policy is stateless; each band gets its own state object.
import { type FairnessExchange } from '../../fairness-exchange.js';
import { type Flow } from '../../flow.js';
import { type OrderingPolicy } from '../ordering/ordering-policy.js';

/** Per-band fairness state. The controller tells it every change; it answers `pick()` in O(1) or O(log flows). */
export interface FairnessState {
  /** The flow went from empty to non-empty. */
  activate(flow: Flow): void;
  /** The flow became empty. */
  deactivate(flow: Flow): void;
  /** The head item of a non-empty flow changed (an earlier item arrived, or the head left). */
  headChanged(flow: Flow): void;
  /**
   * The non-empty flow to dispatch from next, or undefined when none is active or when the band must hold (see
   * `holding`).
   */
  pick(): Flow | undefined;
  /**
   * The flow that would go next if the one `pick()` returned could not (the tenant reserve holds it back), or
   * undefined when there is none or the policy cannot tell. O(1).
   */
  runnerUp?(): Flow | undefined;
  /** One item of `flow` was dispatched with estimated cost `cost` (tokens). The flow may now be inactive. */
  charge(flow: Flow, cost: number): void;
  /** The actual cost differed from the estimate by `delta` tokens (release-time correction). */
  correct(flow: Flow, delta: number): void;
  /**
   * Shared across replicas only: the last `pick()` returned undefined although flows are active, because the
   * pool's capacity is owed to a tenant queued on another replica. The controller then waits like behind a
   * closed gate (the exchange's next sync wakes it).
   */
  holding?(): boolean;
  /** Shared across replicas only: another replica has work queued in this band, so no dispatch skips the queue. */
  contended?(): boolean;
  /** The flow was collected (idle): per-tenant state kept outside it may go too. */
  flowCollected?(flow: Flow): void;
  /** The band was collected: release whatever the state holds outside the band. */
  close?(): void;
}

export interface FairnessContext {
  /** The band's ordering, for policies that compare flow heads. */
  readonly ordering: OrderingPolicy;
  /** The band's priority. */
  readonly priority: number;
  /** Set when replicas share fairness (src/sharedstate implements it); policies that support it join. */
  readonly exchange?: FairnessExchange;
  /** Asks the controller for a dispatch cycle (a held band may dispatch again after a sync). */
  readonly wake: () => void;
}

export interface FairnessPolicy {
  readonly name: string;
  newState(context: FairnessContext): FairnessState;
}
