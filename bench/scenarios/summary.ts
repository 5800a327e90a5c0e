// Per-class and per-pool figures of one run: completed, shed by reason, timeouts, TTFT and e2e percentiles,
// served tokens and throughput; plus the per-pod spread used by the herding scenario.
import { Summary } from '../../src/core/index.js';
import { type RequestRecord } from './recorder.js';
import { type RunOutput } from './run-system.js';

export interface ClassSummary {
  readonly cls: string;
  readonly sent: number;
  readonly completed: number;
  /** `<status> <reason>` -> count, e.g. `429 ttl`. */
  readonly shed: Readonly<Record<string, number>>;
  /** Shed answers that carried Retry-After. */
  readonly shedWithRetryAfter: number;
  /** p99 of the time a shed request waited for its answer (ms). */
  readonly shedAnswerP99Ms: number;
  /** The client gave up (its own timeout) before any answer. */
  readonly timeouts: number;
  readonly ttftP50Ms: number;
  readonly ttftP99Ms: number;
  readonly e2eP50Ms: number;
  readonly e2eP99Ms: number;
  /** Where completed requests' TTFT went, p99 of each part (ms): queued in the gateway, queued in the engine. */
  readonly gatewayWaitP99Ms: number;
  readonly engineQueueP99Ms: number;
  /** Prompt + output tokens served (completed requests and partial work alike). */
  readonly servedTokens: number;
}

export interface PoolSummary {
  readonly completed: number;
  /** Over [start of traffic, last outcome]. */
  readonly completedPerSec: number;
  readonly servedTokensPerSec: number;
  readonly durationSec: number;
}

export function summarizeClasses(run: RunOutput, classes: readonly string[]): ClassSummary[] {
  return classes.map((cls) => summarizeClass(cls, [...run.recorder.records.values()].filter((r) => r.cls === cls), run));
}

function summarizeClass(cls: string, recs: readonly RequestRecord[], run: RunOutput): ClassSummary {
  const ttft = new Summary();
  const e2e = new Summary();
  const shedWait = new Summary();
  const gatewayWait = new Summary();
  const engineQueue = new Summary();
  const shed: Record<string, number> = {};
  let completed = 0;
  let timeouts = 0;
  let withRetry = 0;
  let served = 0;
  for (const r of recs) {
    if (r.outcome === 'completed') {
      completed++;
      if (r.ttftMs !== undefined) ttft.add(r.ttftMs);
      if (r.e2eMs !== undefined) e2e.add(r.e2eMs);
      if (r.dispatchedAtMs !== undefined) gatewayWait.add(r.dispatchedAtMs - r.arrivalMs);
      if (r.dispatchedAtMs !== undefined && r.admittedAtMs !== undefined) engineQueue.add(r.admittedAtMs - r.dispatchedAtMs);
    } else if (r.outcome === 'shed') {
      const reason = r.shedReason ?? 'unknown';
      shed[reason] = (shed[reason] ?? 0) + 1;
      if (r.retryAfterSeconds !== undefined) withRetry++;
      shedWait.add(r.answeredAfterMs ?? 0);
    } else if (r.outcome === 'timeout') {
      timeouts++;
    }
  }
  const tenant = recs[0]?.tenant;
  // Served tokens are tracked per tenant; a class is its tenant's only class in every scenario here.
  if (tenant !== undefined) for (const v of run.recorder.served.get(tenant) ?? []) served += v;
  return {
    cls,
    sent: recs.length,
    completed,
    shed,
    shedWithRetryAfter: withRetry,
    shedAnswerP99Ms: round(shedWait.percentile(99)),
    timeouts,
    ttftP50Ms: round(ttft.percentile(50)),
    ttftP99Ms: round(ttft.percentile(99)),
    e2eP50Ms: round(e2e.percentile(50)),
    e2eP99Ms: round(e2e.percentile(99)),
    gatewayWaitP99Ms: round(gatewayWait.percentile(99)),
    engineQueueP99Ms: round(engineQueue.percentile(99)),
    servedTokens: served,
  };
}

export function summarizePool(run: RunOutput): PoolSummary {
  let completed = 0;
  for (const r of run.recorder.records.values()) if (r.outcome === 'completed') completed++;
  let served = 0;
  for (const series of run.recorder.served.values()) for (const v of series) served += v;
  const durationSec = Math.max(1e-9, (run.endMs - run.startMs) / 1000);
  return {
    completed,
    completedPerSec: round(completed / durationSec),
    servedTokensPerSec: Math.round(served / durationSec),
    durationSec: round(durationSec),
  };
}

/** TTFTs of completed requests of a class, ascending (for CDF plots). */
export function ttftSamples(run: RunOutput, cls: string): number[] {
  const out: number[] = [];
  for (const r of run.recorder.records.values()) if (r.cls === cls && r.outcome === 'completed' && r.ttftMs !== undefined) out.push(r.ttftMs);
  return out.sort((a, b) => a - b);
}

export interface Spread {
  readonly max: number;
  readonly min: number;
  readonly mean: number;
  /** Coefficient of variation: stddev / mean. */
  readonly cv: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { max: 0, min: 0, mean: 0, cv: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return { max: Math.max(...values), min: Math.min(...values), mean: round(mean), cv: mean > 0 ? round(Math.sqrt(variance) / mean, 3) : 0 };
}

export function round(x: number, digits = 1): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
