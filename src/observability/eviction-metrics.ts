// Counters of in-flight evictions (flow control taking back dispatched sheddable requests), kept apart from
// the rest of FairwayMetrics: one event per attempt, counted as carried out or declined.
import { Counter } from 'prom-client';
import { type InflightEvictionEvent } from '../flowcontrol/index.js';
import { type MetricContext } from './metric-context.js';
import { FAIRWAY_METRICS } from './metric-names.js';

export class EvictionMetrics {
  private readonly evicted: Counter<'priority' | 'reason' | 'for_priority'>;
  private readonly declined: Counter<'priority' | 'reason'>;

  constructor(ctx: MetricContext) {
    const registers = [ctx.registry];
    this.evicted = new Counter({
      name: ctx.name(FAIRWAY_METRICS.inflightEvictions),
      help: 'Dispatched requests taken back in flight (upstream aborted, client answered 429 or sent an error event), by the victim band, reason and the band it made room for.',
      labelNames: ['priority', 'reason', 'for_priority'],
      registers,
    });
    this.declined = new Counter({
      name: ctx.name(FAIRWAY_METRICS.inflightEvictionsDeclined),
      help: 'In-flight eviction attempts the victim declined (its response had completed, or had started and started responses are spared), by the victim band and reason.',
      labelNames: ['priority', 'reason'],
      registers,
    });
  }

  record(event: InflightEvictionEvent): void {
    if (event.outcome === 'evicted') {
      this.evicted.inc({ priority: String(event.priority), reason: event.reason, for_priority: String(event.forPriority) });
    } else {
      this.declined.inc({ priority: String(event.priority), reason: event.reason });
    }
  }
}
