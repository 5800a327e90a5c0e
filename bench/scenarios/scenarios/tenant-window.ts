// Tenant-service figures over a window: served tokens per tenant in the buckets where every tenant was
// continuously backlogged, and offered demand vs served service over the whole flood.
import { BUCKET_MS } from '../recorder.js';
import { type RunOutput } from '../run-system.js';
import { type PlannedRequest } from '../traffic.js';

/** Served tokens per tenant summed over the given buckets. */
export function servedInBuckets(run: RunOutput, tenants: readonly string[], buckets: readonly number[]): number[] {
  return tenants.map((t) => {
    const series = run.recorder.served.get(t) ?? [];
    return buckets.reduce((sum, b) => sum + (series[b] ?? 0), 0);
  });
}

/** Buckets (absolute, BUCKET_MS long) covering traffic time [fromMs, toMs), relative to the run's start. */
export function bucketsBetween(run: RunOutput, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  for (let b = Math.ceil((run.startMs + fromMs) / BUCKET_MS); (b + 1) * BUCKET_MS <= run.startMs + toMs; b++) out.push(b);
  return out;
}

/** Tokens (prompt + actual output) offered per tenant by requests arriving in traffic time [fromMs, toMs). */
export function offeredTokens(requests: readonly PlannedRequest[], tenants: readonly string[], fromMs: number, toMs: number): number[] {
  return tenants.map((t) =>
    requests
      .filter((r) => r.tenant === t && r.arrivalMs >= fromMs && r.arrivalMs < toMs)
      .reduce((sum, r) => sum + r.promptTokens + r.outputTokens, 0),
  );
}

/** Buckets of traffic time [fromMs, toMs) in which every tenant was backlogged throughout. */
export function backloggedBuckets(run: RunOutput, tenants: readonly string[], fromMs: number, toMs: number): number[] {
  return run.recorder.backloggedBuckets(tenants, run.startMs + fromMs, run.startMs + toMs, run.endMs);
}

/** Tokens served to every tenant in traffic time [fromMs, toMs) (whole buckets). */
export function servedTokensBetween(run: RunOutput, fromMs: number, toMs: number): number {
  const buckets = bucketsBetween(run, fromMs, toMs);
  return servedInBuckets(run, [...run.recorder.served.keys()], buckets).reduce((a, b) => a + b, 0);
}
