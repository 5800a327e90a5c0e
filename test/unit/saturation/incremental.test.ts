// The detectors' incremental evaluation: only endpoints whose inputs changed are rescored, and the answers are
// exactly those of a full pass over every endpoint, whatever the sequence of scrapes, failures, dispatches, ends,
// peer updates, membership changes and elapsed time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import {
  type EndpointMetrics,
  type InflightFeed,
  type InflightLoad,
  type InflightTicket,
  type PeerInflightSource,
  CombinedInflight,
  InflightTracker,
  NO_INFLIGHT,
  PoolStore,
} from '../../../src/datalayer/index.js';
import {
  type Aggregation,
  type DetectorDeps,
  type SaturationDetector,
  ConcurrencyDetector,
  HybridDetector,
  UtilizationDetector,
} from '../../../src/saturation/index.js';

/** A peer source whose loads the test sets; every set is a version step that names no endpoint. */
class SettablePeers implements PeerInflightSource {
  version = 0;
  private readonly loads = new Map<string, InflightLoad>();
  peerLoad(endpointId: string): InflightLoad {
    return this.loads.get(endpointId) ?? NO_INFLIGHT;
  }
  set(endpointId: string, requests: number, sinceScrape: number): void {
    this.loads.set(endpointId, Object.freeze({ requests, tokens: requests * 100, requestsSinceScrape: sinceScrape, tokensSinceScrape: sinceScrape * 100 }));
    this.version++;
  }
  onDrop(): () => void {
    return () => undefined;
  }
}

type Kind = 'utilization' | 'hybrid' | 'concurrency';

/** The reference: the same detector rescoring every endpoint at every evaluation. */
function build(kind: Kind, deps: DetectorDeps, aggregation: Aggregation, incremental: boolean): SaturationDetector & { scoringCounts(): { full: number; endpoints: number } } {
  const options = { aggregation, stalenessMs: 150 };
  switch (kind) {
    case 'utilization':
      return new (class extends UtilizationDetector {
        protected override readonly incremental = incremental;
        scoringCounts() {
          return { ...this.scoring };
        }
      })(deps, options);
    case 'hybrid':
      return new (class extends HybridDetector {
        protected override readonly incremental = incremental;
        scoringCounts() {
          return { ...this.scoring };
        }
      })(deps, { ...options, maxNumBatchedTokens: 400 });
    case 'concurrency':
      return new (class extends ConcurrencyDetector {
        protected override readonly incremental = incremental;
        scoringCounts() {
          return { ...this.scoring };
        }
      })(deps, { aggregation, maxRequests: 6 });
  }
}

function metricsOf(waiting: number, running: number, kv: number, geometry: boolean): EndpointMetrics {
  return {
    waitingQueue: waiting,
    runningRequests: running,
    kvCacheUsage: kv,
    loraRunning: [],
    loraWaiting: [],
    maxLora: 0,
    ...(geometry ? { kvBlockSize: 16, kvNumBlocks: 100 } : {}),
  };
}

type Op =
  | { readonly op: 'scrape'; readonly at: number; readonly waiting: number; readonly running: number; readonly kv: number; readonly geometry: boolean }
  | { readonly op: 'scrapeMany'; readonly at: number; readonly count: number; readonly waiting: number }
  | { readonly op: 'fail'; readonly at: number; readonly reason: boolean }
  | { readonly op: 'begin'; readonly at: number; readonly tokens: number; readonly unstarted: number }
  | { readonly op: 'end' | 'started'; readonly ticket: number }
  | { readonly op: 'move'; readonly ticket: number; readonly at: number }
  | { readonly op: 'peer'; readonly at: number; readonly requests: number }
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'add' }
  | { readonly op: 'remove'; readonly at: number }
  | { readonly op: 'query' };

const nat = (max: number) => fc.integer({ min: 0, max });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('scrape' as const), at: fc.nat(), waiting: nat(8), running: nat(12), kv: fc.double({ min: 0, max: 1, noNaN: true }), geometry: fc.boolean() }),
  fc.record({ op: fc.constant('scrapeMany' as const), at: fc.nat(), count: nat(4), waiting: nat(8) }),
  fc.record({ op: fc.constant('fail' as const), at: fc.nat(), reason: fc.boolean() }),
  fc.record({ op: fc.constant('begin' as const), at: fc.nat(), tokens: nat(300), unstarted: nat(300) }),
  fc.record({ op: fc.constantFrom('end' as const, 'started' as const), ticket: fc.nat() }),
  fc.record({ op: fc.constant('move' as const), ticket: fc.nat(), at: fc.nat() }),
  fc.record({ op: fc.constant('peer' as const), at: fc.nat(), requests: nat(5) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 80 }) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 80 }) }),
  fc.constant<Op>({ op: 'add' }),
  fc.record({ op: fc.constant('remove' as const), at: fc.nat() }),
  fc.constant<Op>({ op: 'query' }),
  fc.constant<Op>({ op: 'query' }),
  fc.constant<Op>({ op: 'query' }),
);

/** Runs `ops` against one pool read by an incremental detector and its full-pass twin, comparing at each query. */
function check(kind: Kind, aggregation: Aggregation, withPeers: boolean, ops: readonly Op[]): void {
  const clock = new ManualClock(10_000);
  // The store's own staleness sweep (200 ms) and the detectors' shorter limit (150 ms) both apply.
  const store = new PoolStore({ clock, staleAfterMs: 200 });
  const local = new InflightTracker({ clock });
  const peers = new SettablePeers();
  const inflight: InflightFeed = withPeers ? new CombinedInflight(local, peers) : local;
  const deps = { pool: store, inflight, clock };
  const incremental = build(kind, deps, aggregation, true);
  const reference = build(kind, deps, aggregation, false);
  let nextHost = 1;
  const ids: string[] = [];
  const add = (): void => {
    ids.push(store.upsert({ host: `10.0.0.${nextHost++}`, port: 8000 }));
  };
  for (let i = 0; i < 4; i++) add();
  const tickets: InflightTicket[] = [];
  const pick = (at: number): string | undefined => (ids.length === 0 ? undefined : ids[at % ids.length]);
  const scrape = (id: string, m: EndpointMetrics): void => {
    local.markScraped(id, clock.now());
    store.recordMetrics(id, m, clock.now());
  };
  const compare = (): void => {
    expect(incremental.saturation()).toBe(reference.saturation());
    expect(incremental.pacedSaturation()).toBe(reference.pacedSaturation());
    for (const id of [...ids, 'not-in-pool:1']) {
      expect(incremental.endpointSaturation(id)).toBe(reference.endpointSaturation(id));
      expect(incremental.pacedEndpointSaturation(id)).toBe(reference.pacedEndpointSaturation(id));
    }
    const a = incremental.details();
    const b = reference.details();
    expect(a.staleEndpoints).toBe(b.staleEndpoints);
    expect([...a.endpoints]).toEqual([...b.endpoints]);
    expect([...a.pacedEndpoints]).toEqual([...b.pacedEndpoints]);
  };
  for (const o of ops) {
    switch (o.op) {
      case 'scrape': {
        const id = pick(o.at);
        if (id !== undefined) scrape(id, metricsOf(o.waiting, o.running, o.kv, o.geometry));
        break;
      }
      case 'scrapeMany':
        store.batch(() => {
          for (let k = 0; k < o.count; k++) {
            const id = pick(o.at + k);
            if (id !== undefined) scrape(id, metricsOf(o.waiting + k, k, 0.1 * k, true));
          }
        });
        break;
      case 'fail': {
        const id = pick(o.at);
        if (id !== undefined) store.recordFailure(id, o.reason ? 'timeout' : undefined);
        break;
      }
      case 'begin': {
        const id = pick(o.at);
        if (id !== undefined) tickets.push(local.begin(id, o.tokens, o.unstarted));
        break;
      }
      case 'end':
      case 'started': {
        const t = tickets[o.ticket % Math.max(1, tickets.length)];
        if (t !== undefined) {
          if (o.op === 'end') local.end(t);
          else local.started(t);
        }
        break;
      }
      case 'move': {
        const k = o.ticket % Math.max(1, tickets.length);
        const t = tickets[k];
        const id = pick(o.at);
        if (t !== undefined && id !== undefined) tickets[k] = local.move(t, id);
        break;
      }
      case 'peer': {
        const id = pick(o.at);
        if (id !== undefined) peers.set(id, o.requests, Math.min(o.requests, 2));
        break;
      }
      case 'advance':
        clock.advance(o.ms);
        break;
      case 'add':
        add();
        break;
      case 'remove': {
        const id = pick(o.at);
        if (id !== undefined) {
          store.remove(id);
          local.forget(id);
          ids.splice(ids.indexOf(id), 1);
        }
        break;
      }
      case 'query':
        compare();
        break;
    }
  }
  compare();
  incremental.close();
  reference.close();
  store.close();
}

describe('incremental detector evaluation', () => {
  it('the incremental answers equal a full pass over every endpoint for any sequence of scrapes, failures, dispatches, ends, first bytes, moves, peer updates, joins, leaves and elapsed time', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Kind>('utilization', 'hybrid', 'concurrency'),
        fc.constantFrom<Aggregation>('headroom', 'mean', 'min'),
        fc.boolean(),
        fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }),
        (kind, aggregation, withPeers, ops) => check(kind, aggregation, withPeers, ops),
      ),
      { numRuns: 200 },
    );
  });

  it('rescores only the endpoint a dispatch or a scrape touched; a full pass only for membership, elapsed staleness or unnamed peer changes', () => {
    const clock = new ManualClock(10_000);
    const store = new PoolStore({ clock, staleAfterMs: 1e12 });
    const local = new InflightTracker({ clock });
    const peers = new SettablePeers();
    const d = build('hybrid', { pool: store, inflight: new CombinedInflight(local, peers), clock }, 'headroom', true);
    const ids = Array.from({ length: 50 }, (_, i) => store.upsert({ host: `10.0.1.${i}`, port: 8000 }));
    store.batch(() => {
      for (const id of ids) store.recordMetrics(id, metricsOf(0, 1, 0.1, true), clock.now());
    });
    d.saturation();
    const base = d.scoringCounts();
    const ticket = local.begin(ids[7]!, 100);
    d.saturation();
    expect(d.scoringCounts()).toEqual({ full: base.full, endpoints: base.endpoints + 1 });
    local.end(ticket);
    local.markScraped(ids[9]!, clock.now());
    store.recordMetrics(ids[9]!, metricsOf(2, 1, 0.2, true), clock.now());
    expect(d.endpointSaturation(ids[9]!)).toBeCloseTo(0.4, 10);
    expect(d.scoringCounts()).toEqual({ full: base.full, endpoints: base.endpoints + 3 });
    // Another replica's loads: the feed cannot say which endpoints moved.
    peers.set(ids[3]!, 2, 1);
    d.saturation();
    expect(d.scoringCounts().full).toBe(base.full + 1);
    // Metrics of the first scrapes age past the detector's limit (150 ms): everything is looked at again.
    clock.advance(201);
    expect(d.saturation()).toBe(1);
    expect(d.scoringCounts().full).toBe(base.full + 2);
    // A new endpoint changes the membership.
    store.upsert({ host: '10.0.2.1', port: 8000 });
    d.saturation();
    expect(d.scoringCounts().full).toBe(base.full + 3);
    d.close();
  });
});
