// weighted-fair: token-cost weighted fair queuing in the manner of the Virtual Token Counter (VTC, Sheng et al.,
// OSDI '24) and start-time fair queuing. Each flow keeps a virtual counter of the service it received, in tokens
// divided by its tenant weight; the active flow with the smallest counter goes next (ties: older flow).
//
// Fairness bound. Let C be the largest normalised charge (estimated tokens / weight) of a single request seen in
// the band. At every moment, the counters of all active (backlogged) flows lie within [m, m + C], m being the
// smallest of them: only the flow at m is charged, by at most C, and a returning flow is placed inside the band.
// Hence for any two flows i, j continuously backlogged over an interval, the weighted service they receive in it
// (estimated tokens / weight) differs by at most 2C, whatever the dispatch rate or gate pattern.
// Release-time correction replaces an estimate by the actual cost; it moves only the corrected flow's counter,
// so the bound then holds on actual costs up to the estimation error of the requests still in flight.
//
// No credit hoarding: a flow that becomes active again is lifted to at least m (idle time earns nothing) and, so
// that using capacity nobody else wanted is not punished later, to at most m + C.
//
// Dispatches on the controller's fast path (nothing queued in any band) are not charged at all: with no
// contention there is nobody to be fair to, and since a returning flow is clamped into [m, m + C] anyway, what it
// used while nothing waited shifts its place at each activation by at most C. The bound above holds unchanged,
// because while a flow is backlogged nothing takes the fast path.
//
// Across replicas (a FairnessExchange is configured) see weighted-fair-shared.ts: same counters summed over the
// pool, a hold rule, and a bound that adds what the sync interval lets the replicas miss of each other.
//
// Complexity: O(log active flows) per activate, deactivate, pick and charge (an indexed heap).
import { type Flow } from '../../flow.js';
import { type FairnessPolicy, type FairnessState } from './fairness-policy.js';
import { newFlowHeap } from './flow-heap.js';
import { SharedWeightedFairState } from './weighted-fair-shared.js';

class WeightedFairState implements FairnessState {
  private readonly heap = newFlowHeap(
    (a: Flow, b: Flow) => a.virtualService < b.virtualService || (a.virtualService === b.virtualService && a.seq < b.seq),
  );
  /** Largest single normalised charge seen: the C of the bound. */
  private maxCharge = 0;
  /** Smallest active counter as of the last pick; where returning flows land when no flow is active. */
  private virtualTime = 0;

  activate(flow: Flow): void {
    const lo = this.heap.peek()?.virtualService ?? this.virtualTime;
    flow.virtualService = Math.min(Math.max(flow.virtualService, lo), lo + this.maxCharge);
    this.heap.push(flow);
  }

  deactivate(flow: Flow): void {
    this.heap.remove(flow);
  }

  headChanged(): void {}

  pick(): Flow | undefined {
    const flow = this.heap.peek();
    if (flow !== undefined && flow.virtualService > this.virtualTime) this.virtualTime = flow.virtualService;
    return flow;
  }

  runnerUp(): Flow | undefined {
    return this.heap.peekSecond();
  }

  charge(flow: Flow, cost: number): void {
    const normalised = cost / flow.weight;
    if (normalised > this.maxCharge) this.maxCharge = normalised;
    flow.virtualService += normalised;
    this.heap.update(flow);
  }

  correct(flow: Flow, delta: number): void {
    flow.virtualService += delta / flow.weight;
    this.heap.update(flow);
  }
}

export const weightedFairFairness: FairnessPolicy = {
  name: 'weighted-fair',
  // Replicas sharing state (FlowControllerOptions.fairnessExchange) get the pool-wide variant and its bound.
  newState: (ctx) => (ctx.exchange !== undefined ? new SharedWeightedFairState(ctx.exchange, ctx.priority, ctx.wake) : new WeightedFairState()),
};
