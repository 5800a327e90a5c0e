// Builds one StatusSnapshot from plain readings: pure (no clock, no I/O), so every figure on the page can be
// checked against its inputs. Bounded output: top-N tenants, at most `maxEndpoints` endpoints, fixed history.
import { type CounterHistory } from './counter-history.js';
import { type BandView, type EndpointView, type FlowQueueView } from './ports.js';
import {
  type BandGate,
  type BandStatus,
  type ConfigSummary,
  type EndpointStatus,
  type HistoryStatus,
  STATUS_SCHEMA_VERSION,
  type StatusSnapshot,
} from './snapshot.js';
import { COUNTER } from './status-recorder.js';
import { type ServedReading } from './tenant-ledger.js';

export interface SnapshotInput {
  readonly seq: number;
  /** Monotonic clock time (ms) of the readings; the clock of flow control, the pool and the history. */
  readonly now: number;
  readonly wallNow: number;
  readonly startedAt: number;
  readonly version: string;
  readonly config: ConfigSummary;
  readonly flow: {
    readonly queuedRequests: number;
    readonly queuedBytes: number;
    readonly inflight: number;
    readonly liveFlows: number;
    readonly bands: readonly BandView[];
  };
  readonly topQueued: readonly FlowQueueView[];
  readonly queuedFor: (fairnessId: string) => number;
  readonly saturation: { readonly value: number; readonly staleEndpoints: number; readonly endpoints: ReadonlyMap<string, number> };
  readonly endpoints: readonly EndpointView[];
  readonly inflightOf: (endpointId: string) => number;
  /** Live cumulative counters (`StatusRecorder.counters()`). */
  readonly counters: ReadonlyMap<string, number>;
  readonly history: CounterHistory;
  readonly tenants: {
    readonly active: number;
    readonly jainIndex: number;
    readonly top: readonly ServedReading[];
    readonly activeWindowSeconds: number;
    readonly decaySeconds: number;
  };
  /** How tenant names are shown (identity, or a hash). */
  readonly tenantName: (fairnessId: string) => string;
  readonly maxEndpoints: number;
  readonly rateWindowSeconds: number;
  readonly outcomeWindowSeconds: number;
}

/** Rounds for the wire: the page shows 3 significant decimals at most, and the payload stays small. */
function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return 0;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Increase of counter `key` over the last `seconds` (see `CounterHistory.baseline`), and the time it spans. */
function increase(input: SnapshotInput, key: string, seconds: number): { delta: number; ms: number } {
  const since = input.now - seconds * 1000;
  const base = input.history.baseline(since);
  const from = base?.at ?? input.startedAt;
  const value = input.counters.get(key) ?? 0;
  return { delta: Math.max(0, value - (base?.counters.get(key) ?? 0)), ms: Math.max(1, input.now - from) };
}

function rate(input: SnapshotInput, key: string): number {
  const { delta, ms } = increase(input, key, input.rateWindowSeconds);
  return round((delta / ms) * 1000, 2);
}

/** Counts per reason over the outcome window, for every reason that moved in it. */
function byReason(input: SnapshotInput, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key] of input.counters) {
    if (!key.startsWith(prefix)) continue;
    const n = increase(input, key, input.outcomeWindowSeconds).delta;
    if (n > 0) out[key.slice(prefix.length)] = n;
  }
  return out;
}

function bandsOf(input: SnapshotInput): BandStatus[] {
  const strict = input.config.arbitration.name === 'strict';
  let heldAbove = false;
  return input.flow.bands.map((b) => {
    const waiting = b.queuedRequests > 0;
    const passThrough = b.ceiling === Number.POSITIVE_INFINITY;
    // Nothing holds a pass-through band: not saturation, not a held band above it.
    let gate: BandGate = 'open';
    if (!passThrough && waiting && input.saturation.value >= b.ceiling) gate = 'ceiling';
    else if (!passThrough && waiting && heldAbove) gate = 'higher-band';
    // Under strict arbitration the first waiting band at its ceiling stops every band below it.
    if (strict && gate === 'ceiling') heldAbove = true;
    return {
      priority: b.priority,
      name: b.name,
      queuedRequests: b.queuedRequests,
      queuedBytes: b.queuedBytes,
      flows: b.flows,
      oldestWaitMs: b.oldestEnqueuedAt === undefined ? 0 : Math.max(0, Math.round(input.now - b.oldestEnqueuedAt)),
      dispatchedPerSecond: rate(input, COUNTER.dispatchedBand(b.priority)),
      ceiling: round(b.ceiling),
      ...(passThrough ? { passThrough } : {}),
      gate,
    };
  });
}

function endpointsOf(input: SnapshotInput): EndpointStatus[] {
  return [...input.endpoints]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, input.maxEndpoints)
    .map((e) => ({
      id: e.id,
      kvCacheUsage: e.metrics === undefined ? null : round(e.metrics.kvCacheUsage, 4),
      waiting: e.metrics?.waitingQueue ?? null,
      running: e.metrics?.runningRequests ?? null,
      inflight: input.inflightOf(e.id),
      scrapeAgeMs: e.scrapedAt === undefined ? null : Math.max(0, Math.round(input.now - e.scrapedAt)),
      stale: e.stale,
      saturation: round(input.saturation.endpoints.get(e.id) ?? 1),
    }));
}

function historyOf(input: SnapshotInput): HistoryStatus {
  const h = input.history;
  const reasons = (prefix: string): Record<string, number[]> =>
    Object.fromEntries(h.movedKeys(prefix).map((key) => [key.slice(prefix.length), h.deltas(key)]));
  return {
    stepSeconds: 1,
    times: h.times().map((t) => Math.round(input.wallNow - (input.now - t))),
    jainIndex: h.gauge('jainIndex').map((x) => round(x)),
    saturation: h.gauge('saturation').map((x) => round(x)),
    queuedRequests: h.gauge('queuedRequests'),
    inflight: h.gauge('inflight'),
    dispatchedPerSecond: h.deltas(COUNTER.dispatched),
    shedPerSecond: reasons(COUNTER.shedPrefix),
    evictedPerSecond: reasons(COUNTER.evictedPrefix),
  };
}

export function buildStatusSnapshot(input: SnapshotInput): StatusSnapshot {
  const name = input.tenantName;
  const flow = input.flow;
  return {
    schema: STATUS_SCHEMA_VERSION,
    seq: input.seq,
    wallTimeMs: Math.round(input.wallNow),
    uptimeSeconds: Math.max(0, Math.round((input.now - input.startedAt) / 1000)),
    version: input.version,
    config: input.config,
    saturation: {
      detector: input.config.detector,
      value: round(input.saturation.value),
      staleEndpoints: input.saturation.staleEndpoints,
    },
    totals: {
      queuedRequests: flow.queuedRequests,
      queuedBytes: flow.queuedBytes,
      inflight: flow.inflight,
      liveFlows: flow.liveFlows,
      dispatchedPerSecond: rate(input, COUNTER.dispatched),
      routedPerSecond: rate(input, COUNTER.routed),
      shedPerSecond: rate(input, COUNTER.shed),
      rateWindowSeconds: input.rateWindowSeconds,
    },
    bands: bandsOf(input),
    tenants: {
      active: input.tenants.active,
      activeWindowSeconds: input.tenants.activeWindowSeconds,
      decaySeconds: input.tenants.decaySeconds,
      jainIndex: round(input.tenants.jainIndex),
      byServed: input.tenants.top.map((t) => ({
        id: name(t.id),
        weight: t.weight,
        tokensPerSecond: round(t.rate, 1),
        share: round(t.share, 4),
        fairShare: round(t.fairShare, 4),
        distance: round(t.share - t.fairShare, 4),
        queuedRequests: input.queuedFor(t.id),
      })),
      byQueued: input.topQueued.map((f) => ({
        id: name(f.fairnessId),
        priority: f.priority,
        queuedRequests: f.queuedRequests,
        inflight: f.inflight,
        weight: f.weight,
      })),
    },
    outcomes: {
      windowSeconds: input.outcomeWindowSeconds,
      shed: byReason(input, COUNTER.shedPrefix),
      evicted: byReason(input, COUNTER.evictedPrefix),
      dispatched: increase(input, COUNTER.dispatched, input.outcomeWindowSeconds).delta,
      routed: increase(input, COUNTER.routed, input.outcomeWindowSeconds).delta,
    },
    endpoints: { total: input.endpoints.length, list: endpointsOf(input) },
    history: historyOf(input),
  };
}
