// round-robin: active flows take turns, one dispatch each, whatever the cost. A ring of active flows as an
// intrusive list: pick, rotate, join and leave are all O(1) (the Go reference re-sorted all flow keys per pick).
import { IntrusiveList } from '../../../core/index.js';
import { type Flow } from '../../flow.js';
import { type FairnessPolicy, type FairnessState } from './fairness-policy.js';

class RoundRobinState implements FairnessState {
  private readonly ring = new IntrusiveList<Flow>((f) => f);

  activate(flow: Flow): void {
    this.ring.push(flow);
  }

  deactivate(flow: Flow): void {
    this.ring.remove(flow);
  }

  headChanged(): void {}

  pick(): Flow | undefined {
    return this.ring.head;
  }

  runnerUp(): Flow | undefined {
    const head = this.ring.head;
    return head === undefined ? undefined : this.ring.next(head);
  }

  charge(flow: Flow): void {
    // The served flow goes to the back of the ring, if it is still active.
    if (this.ring.remove(flow)) this.ring.push(flow);
  }

  correct(): void {}
}

export const roundRobinFairness: FairnessPolicy = {
  name: 'round-robin',
  newState: () => new RoundRobinState(),
};
