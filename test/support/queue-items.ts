// Builds QueueItems for queue and policy tests without a controller around them.
import { ManualClock } from '../../src/core/index.js';
import { Band, type BandSettings, Flow, QueueItem, fairnessPolicies, orderingPolicies } from '../../src/flowcontrol/index.js';

/** An unbounded static band of priority 0 with FCFS ordering and the named fairness policy. */
export function unboundedBandSettings(fairness: string, name = 'p0'): BandSettings {
  return {
    priority: 0,
    name,
    fairness: fairnessPolicies.get(fairness),
    ordering: orderingPolicies.get('fcfs'),
    maxRequests: Infinity,
    maxBytes: Infinity,
    ttlMs: Infinity,
    ceiling: undefined,
    weight: 1,
    isStatic: true,
    overflow: 'reject',
    passThrough: false,
  };
}

const band = new Band(unboundedBandSettings('round-robin', 'test'));
const clock = new ManualClock();

export function makeFlow(fairnessId = 'f', seq = 0, weight = 1, ordering = 'fcfs', inBand: Band = band): Flow {
  return new Flow(fairnessId, inBand, weight, orderingPolicies.get(ordering).newQueue(), seq);
}

/** An item arriving now; `sloDeadline` becomes the request's TTFT SLO measured from now. */
export function makeItem(p: { seq: number; expiresAt?: number; sloDeadline?: number; flow?: Flow }): QueueItem {
  const flow = p.flow ?? makeFlow();
  const now = clock.now();
  return new QueueItem(
    {
      id: `i${p.seq}`,
      fairnessId: flow.fairnessId,
      priority: 0,
      byteSize: 0,
      estimatedCost: 1,
      arrivedAt: now,
      ...(p.sloDeadline !== undefined ? { ttftSloMs: p.sloDeadline - now } : {}),
    },
    p.seq,
    now,
    p.expiresAt ?? Infinity,
    flow,
    {},
    () => {},
  );
}
