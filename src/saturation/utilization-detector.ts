// `utilization` detector: the Go reference's roofline over scraped metrics (closed loop only), with
// fail-closed staleness and a pool aggregation where one hot endpoint cannot block the others.
import { type EndpointSnapshot } from '../datalayer/index.js';
import { CachedSaturationDetector, type DetectorDeps, type DetectorSettings, type ScoreNotes } from './cached-detector.js';
import { rooflineScore } from './endpoint-score.js';
import { type ResolvedThresholds, type UtilizationThresholds, resolveThresholds } from './options.js';

export type UtilizationOptions = UtilizationThresholds;

/**
 * Per endpoint `max(waiting / queueThreshold, kvUsage / kvThreshold)`; stale or missing metrics score 1.0
 * (a server too busy to answer /metrics is probably saturated). Work Fairway sent since the last scrape is
 * invisible here: use `hybrid` for that.
 */
export class UtilizationDetector extends CachedSaturationDetector {
  readonly thresholds: ResolvedThresholds;

  constructor(deps: DetectorDeps, options: UtilizationOptions = {}) {
    const thresholds = resolveThresholds(options, deps.stalenessMs);
    super('utilization', deps, thresholds.aggregation);
    this.thresholds = thresholds;
  }

  settings(): DetectorSettings {
    return { ...this.thresholds };
  }

  protected scoreEndpoint(endpoint: EndpointSnapshot, now: number, notes: ScoreNotes): number {
    const { queueThreshold, kvThreshold, stalenessMs } = this.thresholds;
    const metrics = this.freshOrNoteStale(endpoint, now, stalenessMs, notes);
    if (metrics === undefined) return 1;
    return rooflineScore(metrics.waitingQueue, metrics.kvCacheUsage, queueThreshold, kvThreshold);
  }
}
