// Keeps endpoints that can serve the requested LoRA adapter without evicting another one.
import { type EndpointSnapshot } from '../../datalayer/index.js';
import { type Filter, type SchedulingContext } from '../types.js';

export const LORA_CAPACITY_FILTER = 'lora-capacity-filter';
export const DEFAULT_LORA_FILTER_FAIL_OPEN = true;

export interface LoraCapacityFilterOptions {
  /** Keep every candidate when none can take the adapter (it will then queue on the server). @default true */
  readonly failOpen?: boolean;
}

/**
 * Passes an endpoint when the adapter is loaded or waiting, when it has a free adapter slot, or when it reports
 * no LoRA information at all (`maxLora` 0 and empty lists: not a multi-LoRA server, nothing to protect).
 * Requests for the base model (`targetModel` absent or equal to `model`) pass everywhere.
 */
export class LoraCapacityFilter implements Filter {
  readonly type = LORA_CAPACITY_FILTER;
  readonly failOpen: boolean;

  constructor(options: LoraCapacityFilterOptions = {}) {
    this.failOpen = options.failOpen ?? DEFAULT_LORA_FILTER_FAIL_OPEN;
  }

  filter(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[]): readonly EndpointSnapshot[] {
    const adapter = ctx.request.targetModel;
    if (adapter === undefined || adapter === ctx.request.model) return candidates;
    return candidates.filter((c) => {
      const m = c.metrics;
      if (m === undefined) return false;
      const slots = m.loraRunning.length + m.loraWaiting.length;
      if (m.maxLora === 0 && slots === 0) return true;
      return m.loraRunning.includes(adapter) || m.loraWaiting.includes(adapter) || slots < m.maxLora;
    });
  }
}
