// global-strict: no isolation between tenants; the band behaves as one queue in its ordering policy's order
// (the Go reference's default). A heap of flows keyed by their head item: O(log flows) per change.
import { type Flow } from '../../flow.js';
import { type FairnessContext, type FairnessPolicy, type FairnessState } from './fairness-policy.js';
import { newFlowHeap } from './flow-heap.js';

class GlobalStrictState implements FairnessState {
  private readonly heap;

  constructor(context: FairnessContext) {
    const ordering = context.ordering;
    this.heap = newFlowHeap((a: Flow, b: Flow) => {
      const ha = a.queue.peek();
      const hb = b.queue.peek();
      if (ha === undefined || hb === undefined) return hb !== undefined;
      return ordering.before(ha, hb);
    });
  }

  activate(flow: Flow): void {
    this.heap.push(flow);
  }

  deactivate(flow: Flow): void {
    this.heap.remove(flow);
  }

  headChanged(flow: Flow): void {
    this.heap.update(flow);
  }

  pick(): Flow | undefined {
    return this.heap.peek();
  }

  runnerUp(): Flow | undefined {
    return this.heap.peekSecond();
  }

  charge(): void {}

  correct(): void {}
}

export const globalStrictFairness: FairnessPolicy = {
  name: 'global-strict',
  newState: (context) => new GlobalStrictState(context),
};
