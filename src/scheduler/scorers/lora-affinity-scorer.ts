// LoRA-affinity scorer: prefers endpoints that already run the requested adapter (Go `lora-affinity-scorer`).
import { type EndpointMetrics, type EndpointSnapshot } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';

export const LORA_AFFINITY_SCORER = 'lora-affinity-scorer';

/**
 * 1 when the adapter is loaded, 0.8 when there is room to load one more adapter, 0.6 when it is already
 * waiting to load, else 0. Room is checked before waiting, as in the reference: a free slot beats a queue.
 */
export function loraAffinity(metrics: EndpointMetrics | undefined, adapter: string): number {
  if (metrics === undefined) return 0;
  if (metrics.loraRunning.includes(adapter)) return 1;
  if (metrics.loraRunning.length + metrics.loraWaiting.length < metrics.maxLora) return 0.8;
  if (metrics.loraWaiting.includes(adapter)) return 0.6;
  return 0;
}

export class LoraAffinityScorer implements Scorer {
  readonly type = LORA_AFFINITY_SCORER;

  /**
   * Scores nothing (all 0) while no candidate runs or waits for any adapter: in a pool without LoRA, or before the
   * first adapter loads, it leaves every other scorer's choice exactly as it was, under any picker. O(n).
   */
  score(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    if (!candidates.some(hasAdapters)) {
      out.fill(0, 0, candidates.length);
      return;
    }
    const adapter = ctx.request.targetModel ?? ctx.request.model;
    for (let i = 0; i < candidates.length; i++) out[i] = loraAffinity(candidates[i]?.metrics, adapter);
  }
}

function hasAdapters(candidate: EndpointSnapshot): boolean {
  const m = candidate.metrics;
  return m !== undefined && (m.loraRunning.length > 0 || m.loraWaiting.length > 0);
}
