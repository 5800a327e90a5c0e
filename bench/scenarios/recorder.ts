// What one run observed: an outcome per request, served tokens per tenant over time, who was backlogged when,
// and per-pod routing. Fed by the simulated gateway and the engines' callbacks.
import { type PlannedRequest } from './traffic.js';

export type RequestOutcome = 'completed' | 'shed' | 'timeout';

export interface RequestRecord {
  readonly id: string;
  readonly cls: string;
  readonly tenant: string;
  readonly arrivalMs: number;
  outcome: RequestOutcome | undefined;
  /** For shed requests: `<status> <reason>`, e.g. `429 ttl`. */
  shedReason?: string;
  retryAfterSeconds?: number;
  /** Time from arrival to the gateway's answer (shed) or the client giving up (timeout). */
  answeredAfterMs?: number;
  ttftMs?: number;
  e2eMs?: number;
  endpoint?: string;
  dispatchedAtMs?: number;
  /** When an engine first admitted it into its batch (left the engine's waiting queue). */
  admittedAtMs?: number;
  /** When flow control took it back in flight (in-flight eviction). */
  evictedAtMs?: number;
}

/** Length of a time bucket for the served-token series and the backlog windows. */
export const BUCKET_MS = 1_000;

export class Recorder {
  readonly records = new Map<string, RequestRecord>();
  /** Tokens (prompt at first token, then each output token) per tenant per bucket. */
  readonly served = new Map<string, number[]>();
  /** Buckets in which the tenant was, at some instant, not backlogged. */
  private readonly notBacklogged = new Map<string, Set<number>>();
  private readonly waitingCount = new Map<string, number>();
  private readonly idleSince = new Map<string, number>();
  private readonly waitingIds = new Set<string>();
  readonly dispatchesPerPod = new Map<string, number>();
  readonly inflightPerPod = new Map<string, number>();
  readonly peakInflightPerPod = new Map<string, number>();
  private open = 0;

  constructor(tenants: readonly string[]) {
    for (const t of tenants) {
      this.served.set(t, []);
      this.notBacklogged.set(t, new Set());
      this.waitingCount.set(t, 0);
      this.idleSince.set(t, 0);
    }
  }

  /** Requests without an outcome yet. */
  get pending(): number {
    return this.open;
  }

  arrive(r: PlannedRequest, now: number): RequestRecord {
    const rec: RequestRecord = { id: r.id, cls: r.cls, tenant: r.tenant, arrivalMs: now, outcome: undefined };
    this.records.set(r.id, rec);
    this.open++;
    this.waitingIds.add(r.id);
    this.bumpWaiting(r.tenant, +1, now);
    return rec;
  }

  /** The request left every queue (admitted by an engine, shed, or abandoned). Idempotent. */
  stopWaiting(id: string, now: number): void {
    const rec = this.records.get(id);
    if (rec !== undefined && rec.outcome === undefined && rec.dispatchedAtMs !== undefined) rec.admittedAtMs ??= now;
    if (!this.waitingIds.delete(id)) return;
    if (rec !== undefined) this.bumpWaiting(rec.tenant, -1, now);
  }

  dispatched(rec: RequestRecord, endpoint: string, now: number): void {
    rec.endpoint = endpoint;
    rec.dispatchedAtMs = now;
    this.dispatchesPerPod.set(endpoint, (this.dispatchesPerPod.get(endpoint) ?? 0) + 1);
    const n = (this.inflightPerPod.get(endpoint) ?? 0) + 1;
    this.inflightPerPod.set(endpoint, n);
    if (n > (this.peakInflightPerPod.get(endpoint) ?? 0)) this.peakInflightPerPod.set(endpoint, n);
  }

  left(rec: RequestRecord): void {
    if (rec.endpoint !== undefined) this.inflightPerPod.set(rec.endpoint, (this.inflightPerPod.get(rec.endpoint) ?? 1) - 1);
  }

  tokens(tenant: string, count: number, now: number): void {
    const series = this.served.get(tenant);
    if (series === undefined) return;
    const b = Math.floor(now / BUCKET_MS);
    while (series.length <= b) series.push(0);
    series[b] = (series[b] ?? 0) + count;
  }

  settle(rec: RequestRecord, outcome: RequestOutcome, now: number): void {
    if (rec.outcome !== undefined) return;
    rec.outcome = outcome;
    this.open--;
    this.stopWaiting(rec.id, now);
  }

  /** Buckets in [fromMs, toMs) during which every listed tenant was continuously backlogged. */
  backloggedBuckets(tenants: readonly string[], fromMs: number, toMs: number, now: number): number[] {
    for (const t of tenants) this.closeIdle(t, now);
    const out: number[] = [];
    for (let b = Math.ceil(fromMs / BUCKET_MS); (b + 1) * BUCKET_MS <= toMs; b++) {
      if (tenants.every((t) => !(this.notBacklogged.get(t)?.has(b) ?? true))) out.push(b);
    }
    return out;
  }

  private bumpWaiting(tenant: string, delta: number, now: number): void {
    const before = this.waitingCount.get(tenant) ?? 0;
    const after = before + delta;
    this.waitingCount.set(tenant, after);
    if (before === 0 && after > 0) this.closeIdle(tenant, now);
    if (after === 0) this.idleSince.set(tenant, now);
  }

  /** Marks the buckets of the idle spell that ends now (or is still running) as not backlogged. */
  private closeIdle(tenant: string, now: number): void {
    const since = this.idleSince.get(tenant);
    if (since === undefined) return;
    const set = this.notBacklogged.get(tenant);
    if (set === undefined) return;
    for (let b = Math.floor(since / BUCKET_MS); b <= Math.floor(now / BUCKET_MS); b++) set.add(b);
    if ((this.waitingCount.get(tenant) ?? 0) > 0) this.idleSince.delete(tenant);
    else this.idleSince.set(tenant, now);
  }
}
