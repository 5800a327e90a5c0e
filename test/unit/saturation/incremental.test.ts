// The detectors' incremental evaluation: only endpoints whose inputs changed are rescored, and the answers are
// exactly those of a full pass over every endpoint at every read, whatever the sequence of scrapes (sent before
// or after dispatches), failures, dispatches on this replica and on the others, ends, first bytes, moves, sync
// rounds of the shared state (the in-memory store the product's workers use, up or down), endpoints joining,
// leaving and coming back under the same id with other figures, and elapsed time (metrics going stale, and fresh
// again).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock, ObserverFaults, noopLogger } from '../../../src/core/index.js';
import {
  type EndpointMetrics,
  type InflightTicket,
  type ScrapeListener,
  CombinedInflight,
  InflightTracker,
  PoolStore,
  fanOutScrapes,
} from '../../../src/datalayer/index.js';
import {
  type Aggregation,
  type DetectorDeps,
  type SaturationDetector,
  ConcurrencyDetector,
  HybridDetector,
  UtilizationDetector,
} from '../../../src/saturation/index.js';
import { InflightChannel, MemoryHub, SharedStateExchange } from '../../../src/sharedstate/index.js';

type Kind = 'utilization' | 'hybrid' | 'concurrency';

/** The reference: the same detector rescoring every endpoint at every read. */
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

const SYNC_MS = 20;

/** One gateway replica's in-flight side, as the server builds it with shared state (server/shared-state.ts). */
interface Replica {
  readonly tracker: InflightTracker;
  readonly channel: InflightChannel;
  readonly exchange: SharedStateExchange;
  /** What the pool monitor tells of scrapes: the ledger first, then the channel. */
  readonly scrapes: ScrapeListener;
}

function replica(clock: ManualClock, hub: MemoryHub, origin: string, endpoints: () => Iterable<string>): Replica {
  const tracker = new InflightTracker({ clock });
  const exchange = new SharedStateExchange({ transport: hub.transport(), origin, clock, syncIntervalMs: SYNC_MS });
  const channel = new InflightChannel({ local: tracker, endpoints, time: exchange, clock });
  exchange.register(channel);
  return { tracker, channel, exchange, scrapes: fanOutScrapes({ inflight: tracker, 'shared-inflight': channel }, new ObserverFaults(noopLogger)) };
}

/** Lets the in-memory store's answers (promise callbacks) reach the exchanges, without advancing virtual time. */
async function settle(): Promise<void> {
  for (let i = 0; i < 8; i++) await Promise.resolve();
}

type Op =
  | { readonly op: 'scrape'; readonly at: number; readonly sentAgo: number; readonly waiting: number; readonly running: number; readonly kv: number; readonly geometry: boolean }
  | { readonly op: 'scrapeMany'; readonly at: number; readonly count: number; readonly waiting: number }
  | { readonly op: 'peerScrape'; readonly replica: number; readonly at: number; readonly sentAgo: number }
  | { readonly op: 'fail'; readonly at: number; readonly reason: boolean }
  | { readonly op: 'begin'; readonly replica: number; readonly at: number; readonly tokens: number; readonly unstarted: number }
  | { readonly op: 'end' | 'started'; readonly ticket: number }
  | { readonly op: 'move'; readonly ticket: number; readonly at: number }
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'hub'; readonly up: boolean }
  | { readonly op: 'add' }
  | { readonly op: 'remove'; readonly at: number }
  | { readonly op: 'readd'; readonly at: number; readonly scrape: boolean; readonly waiting: number; readonly running: number; readonly kv: number }
  | { readonly op: 'query' };

const nat = (max: number) => fc.integer({ min: 0, max });
const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const op: fc.Arbitrary<Op> = fc.oneof(
  w(
    2,
    fc.record({
      op: fc.constant('scrape' as const),
      at: fc.nat(),
      sentAgo: nat(30),
      waiting: nat(8),
      running: nat(12),
      kv: fc.double({ min: 0, max: 1, noNaN: true }),
      geometry: fc.boolean(),
    }),
  ),
  w(1, fc.record({ op: fc.constant('scrapeMany' as const), at: fc.nat(), count: nat(4), waiting: nat(8) })),
  w(1, fc.record({ op: fc.constant('peerScrape' as const), replica: fc.integer({ min: 1, max: 2 }), at: fc.nat(), sentAgo: nat(30) })),
  w(1, fc.record({ op: fc.constant('fail' as const), at: fc.nat(), reason: fc.boolean() })),
  w(5, fc.record({ op: fc.constant('begin' as const), replica: nat(2), at: fc.nat(), tokens: nat(300), unstarted: nat(300) })),
  w(2, fc.record({ op: fc.constantFrom('end' as const, 'started' as const), ticket: fc.nat() })),
  w(1, fc.record({ op: fc.constant('move' as const), ticket: fc.nat(), at: fc.nat() })),
  w(1, fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 80 }) })),
  // A sync round (or a part of one), the usual step between two reads.
  w(4, fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(SYNC_MS, SYNC_MS + 1, 5) })),
  // Up to and just past the detectors' staleness limit (150 ms): endpoints scraped at different times age out one
  // after another, each at its own read (rescored alone, not by a full pass).
  w(1, fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(149, 150, 151) })),
  // The store goes down less often than it comes back, so most runs are mostly connected.
  w(1, fc.record({ op: fc.constant('hub' as const), up: fc.constantFrom(true, true, false) })),
  w(1, fc.constant<Op>({ op: 'add' })),
  w(1, fc.record({ op: fc.constant('remove' as const), at: fc.nat() })),
  w(1, fc.record({ op: fc.constant('readd' as const), at: fc.nat(), scrape: fc.boolean(), waiting: nat(8), running: nat(12), kv: fc.double({ min: 0, max: 1, noNaN: true }) })),
  w(2, fc.constant<Op>({ op: 'query' })),
);

/**
 * Runs `ops` against one pool read by an incremental detector and its full-pass twin; compares after every step
 * (`everyStep`), or only at the queries, so that several changes also meet one evaluation. With `shared`, the
 * detectors read replica A's CombinedInflight (its ledger plus what replicas B and C report through the store);
 * without, A's ledger alone.
 */
async function check(kind: Kind, aggregation: Aggregation, shared: boolean, everyStep: boolean, ops: readonly Op[]): Promise<void> {
  const clock = new ManualClock(10_000);
  const hub = new MemoryHub(clock);
  // The store's own staleness sweep (200 ms) and the detectors' shorter limit (150 ms) both apply.
  const store = new PoolStore({ clock, staleAfterMs: 200 });
  const members = (): string[] => store.current().endpoints.map((e) => e.id);
  const replicas = ['a', 'b', 'c'].map((origin) => replica(clock, hub, origin, members)) as [Replica, Replica, Replica];
  const a = replicas[0];
  if (shared) for (const r of replicas) r.exchange.start();
  await settle(); // the first rounds answer before any time passes
  const inflight = shared ? new CombinedInflight(a.tracker, a.channel) : a.tracker;
  const deps = { pool: store, inflight, clock };
  const incremental = build(kind, deps, aggregation, true);
  const reference = build(kind, deps, aggregation, false);
  let nextHost = 1;
  const ids: string[] = [];
  const removed: { host: string; id: string }[] = [];
  const add = (): void => {
    ids.push(store.upsert({ host: `10.0.0.${nextHost++}`, port: 8000 }));
  };
  for (let i = 0; i < 4; i++) add();
  const tickets: { owner: InflightTracker; ticket: InflightTicket }[] = [];
  const pick = (at: number): string | undefined => (ids.length === 0 ? undefined : ids[at % ids.length]);
  /** Any id seen so far, in the pool or not: other replicas may still dispatch to an endpoint A dropped. */
  const anyId = (at: number): string | undefined => {
    const all = [...ids, ...removed.map((r) => r.id)];
    return all.length === 0 ? undefined : all[at % all.length];
  };
  const scrape = (id: string, m: EndpointMetrics, sentAgo = 0): void => {
    a.scrapes.markScraped(id, clock.now() - sentAgo);
    store.recordMetrics(id, m, clock.now());
  };
  const compare = (): void => {
    expect(incremental.saturation()).toBe(reference.saturation());
    expect(incremental.pacedSaturation()).toBe(reference.pacedSaturation());
    for (const id of [...ids, ...removed.map((r) => r.id), 'not-in-pool:1']) {
      expect(incremental.endpointSaturation(id)).toBe(reference.endpointSaturation(id));
      expect(incremental.pacedEndpointSaturation(id)).toBe(reference.pacedEndpointSaturation(id));
    }
    const x = incremental.details();
    const y = reference.details();
    expect(x.staleEndpoints).toBe(y.staleEndpoints);
    expect([...x.endpoints]).toEqual([...y.endpoints]);
    expect([...x.pacedEndpoints]).toEqual([...y.pacedEndpoints]);
  };
  try {
    for (const o of ops) {
      switch (o.op) {
        case 'scrape': {
          const id = pick(o.at);
          if (id !== undefined) scrape(id, metricsOf(o.waiting, o.running, o.kv, o.geometry), o.sentAgo);
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
        case 'peerScrape': {
          const id = anyId(o.at);
          if (id !== undefined) replicas[o.replica]?.scrapes.markScraped(id, clock.now() - o.sentAgo);
          break;
        }
        case 'fail': {
          const id = pick(o.at);
          if (id !== undefined) store.recordFailure(id, o.reason ? 'timeout' : undefined);
          break;
        }
        case 'begin': {
          const r = replicas[o.replica] ?? a;
          const id = r === a ? pick(o.at) : anyId(o.at);
          if (id !== undefined) tickets.push({ owner: r.tracker, ticket: r.tracker.begin(id, o.tokens, o.unstarted) });
          break;
        }
        case 'end':
        case 'started': {
          const t = tickets[o.ticket % Math.max(1, tickets.length)];
          if (t !== undefined) {
            if (o.op === 'end') t.owner.end(t.ticket);
            else t.owner.started(t.ticket);
          }
          break;
        }
        case 'move': {
          const k = o.ticket % Math.max(1, tickets.length);
          const t = tickets[k];
          const id = pick(o.at);
          if (t !== undefined && id !== undefined) tickets[k] = { owner: t.owner, ticket: t.owner.move(t.ticket, id) };
          break;
        }
        case 'advance':
          clock.advance(o.ms);
          await settle();
          break;
        case 'hub':
          hub.setReachable(o.up);
          break;
        case 'add':
          add();
          break;
        case 'remove': {
          const id = pick(o.at);
          if (id !== undefined) {
            const host = store.current().endpoints.find((e) => e.id === id)?.host ?? '';
            store.remove(id);
            a.scrapes.forget?.(id);
            ids.splice(ids.indexOf(id), 1);
            removed.push({ host, id });
          }
          break;
        }
        case 'readd': {
          // The same pod back under the same id (a restart, a flapping readiness), with other figures.
          const back = removed.splice(o.at % Math.max(1, removed.length), 1)[0];
          if (back !== undefined) {
            const id = store.upsert({ host: back.host, port: 8000 });
            expect(id).toBe(back.id);
            ids.push(id);
            if (o.scrape) scrape(id, metricsOf(o.waiting, o.running, o.kv, true));
          }
          break;
        }
        case 'query':
          compare();
          break;
      }
      if (everyStep) compare();
    }
    compare();
  } finally {
    incremental.close();
    reference.close();
    for (const r of replicas) await r.exchange.close();
    store.close();
  }
}

describe('incremental detector evaluation', () => {
  it('the incremental answers equal a full pass at every read for any sequence of scrapes, failures, dispatches here and on other replicas, ends, first bytes, moves, sync rounds (store up or down), joins, leaves, re-joins under the same id, and elapsed time (endpoints ageing out one by one)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Kind>('utilization', 'hybrid', 'concurrency'),
        fc.constantFrom<Aggregation>('headroom', 'mean', 'min'),
        fc.boolean(),
        fc.boolean(),
        fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }),
        (kind, aggregation, shared, everyStep, ops) => check(kind, aggregation, shared, everyStep, ops),
      ),
      { numRuns: 200 },
    );
  });

  it('rescores only the endpoint a dispatch, a scrape or another replica\'s report touched, and only the endpoints whose metrics aged out; a full pass only for membership', async () => {
    const clock = new ManualClock(10_000);
    const hub = new MemoryHub(clock);
    const store = new PoolStore({ clock, staleAfterMs: 1e12 });
    const members = (): string[] => store.current().endpoints.map((e) => e.id);
    const a = replica(clock, hub, 'a', members);
    const b = replica(clock, hub, 'b', members);
    a.exchange.start();
    b.exchange.start();
    await settle();
    const d = build('hybrid', { pool: store, inflight: new CombinedInflight(a.tracker, a.channel), clock }, 'headroom', true);
    const ids = Array.from({ length: 50 }, (_, i) => store.upsert({ host: `10.0.1.${i}`, port: 8000 }));
    store.batch(() => {
      for (const id of ids) store.recordMetrics(id, metricsOf(0, 1, 0.1, true), clock.now());
    });
    d.saturation();
    const base = d.scoringCounts();
    const ticket = a.tracker.begin(ids[7]!, 100);
    d.saturation();
    expect(d.scoringCounts()).toEqual({ full: base.full, endpoints: base.endpoints + 1 });
    a.tracker.end(ticket);
    a.scrapes.markScraped(ids[9]!, clock.now());
    store.recordMetrics(ids[9]!, metricsOf(2, 1, 0.2, true), clock.now());
    expect(d.endpointSaturation(ids[9]!)).toBeCloseTo(0.4, 10);
    expect(d.scoringCounts()).toEqual({ full: base.full, endpoints: base.endpoints + 3 });
    // Another replica's dispatch reaches this one at the next sync round: only that endpoint is rescored.
    const before = d.endpointSaturation(ids[3]!);
    b.tracker.begin(ids[3]!, 100);
    b.tracker.begin(ids[3]!, 100);
    clock.advance(SYNC_MS);
    await settle();
    clock.advance(SYNC_MS);
    await settle();
    expect(d.endpointSaturation(ids[3]!)).toBeGreaterThan(before);
    expect(d.scoringCounts()).toEqual({ full: base.full, endpoints: base.endpoints + 4 });
    // Half the endpoints scraped again 140 ms after the first scrapes: one rescoring each.
    clock.advance(100);
    await settle();
    store.batch(() => {
      for (const id of ids.slice(0, 25)) store.recordMetrics(id, metricsOf(0, 1, 0.1, true), clock.now());
    });
    d.saturation();
    const aged = d.scoringCounts();
    expect(aged).toEqual({ full: base.full, endpoints: base.endpoints + 4 + 25 });
    // The other half's metrics age past the detector's limit (150 ms): those 25 are rescored (as stale), no others.
    clock.advance(11);
    await settle();
    expect(d.endpointSaturation(ids[30]!)).toBe(1);
    expect(d.endpointSaturation(ids[0]!)).toBeLessThan(1);
    expect(d.scoringCounts()).toEqual({ full: base.full, endpoints: aged.endpoints + 25 });
    // Then the first half: rescored at their own expiry, again without a full pass.
    clock.advance(140);
    await settle();
    expect(d.endpointSaturation(ids[0]!)).toBe(1);
    expect(d.saturation()).toBe(1);
    expect(d.scoringCounts()).toEqual({ full: base.full, endpoints: aged.endpoints + 50 });
    // A new endpoint changes the membership.
    store.upsert({ host: '10.0.2.1', port: 8000 });
    d.saturation();
    expect(d.scoringCounts().full).toBe(base.full + 1);
    d.close();
    await a.exchange.close();
    await b.exchange.close();
    store.close();
  });
});
