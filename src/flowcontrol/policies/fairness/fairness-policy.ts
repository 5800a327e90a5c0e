// Fairness policies: which flow of a band goes next. The policy is stateless; each band gets its own state object.
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
  /** The non-empty flow to dispatch from next, or undefined when none is active. */
  pick(): Flow | undefined;
  /** One item of `flow` was dispatched with estimated cost `cost` (tokens). The flow may now be inactive. */
  charge(flow: Flow, cost: number): void;
  /** The actual cost differed from the estimate by `delta` tokens (release-time correction). */
  correct(flow: Flow, delta: number): void;
}

export interface FairnessContext {
  /** The band's ordering, for policies that compare flow heads. */
  readonly ordering: OrderingPolicy;
}

export interface FairnessPolicy {
  readonly name: string;
  newState(context: FairnessContext): FairnessState;
}
