// In-flight counts and scrapes shared across replicas, in virtual time over an in-memory hub: a replica counts
// what the others dispatched to an endpoint until a scrape sent after their report lands; their requests count
// until they end or the replica dies; and one replica (the lease holder) scrapes the pool for all of them, with
// a follower taking over when the scraper dies and everyone scraping while the store is down.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, ObserverFaults, SeededRandom, noopLogger } from '../../../src/core/index.js';
import { CombinedInflight, InflightTracker, PoolReachability, ScrapeFailure, StaticEndpointSource, fanOutScrapes } from '../../../src/datalayer/index.js';
import { InflightChannel, MemoryHub, ScrapeSharing, SharedStateExchange } from '../../../src/sharedstate/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { ScriptedFetcher } from '../datalayer/fakes.js';
import { VLLM_PAGE } from '../datalayer/fixtures.js';

const T = 20;
const E = 'pod-a:8000';

async function tick(clock: ManualClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await flushMicrotasks(2);
  }
}

describe('in-flight counts shared across replicas', () => {
  function replica(clock: ManualClock, hub: MemoryHub, origin: string) {
    const tracker = new InflightTracker({ clock });
    const exchange = new SharedStateExchange({ transport: hub.transport(), origin, clock, syncIntervalMs: T });
    const channel = new InflightChannel({ local: tracker, endpoints: () => [E], time: exchange, clock });
    exchange.register(channel);
    const view = new CombinedInflight(tracker, channel);
    const scrapes = fanOutScrapes({ inflight: tracker, 'shared-inflight': channel }, new ObserverFaults(noopLogger));
    return { tracker, exchange, channel, view, scrapes };
  }

  it('counts another replica\'s dispatches until a scrape sent after its report lands, and its requests until they end', async () => {
    const clock = new ManualClock(1_000);
    const hub = new MemoryHub(clock);
    const a = replica(clock, hub, 'a');
    const b = replica(clock, hub, 'b');
    a.exchange.start();
    b.exchange.start();
    await tick(clock, 2 * T);
    const t1 = a.tracker.begin(E, 100);
    a.tracker.begin(E, 50);
    await tick(clock, 2 * T + 1);
    expect(b.view.load(E)).toMatchObject({ requests: 2, tokens: 150, requestsSinceScrape: 2, tokensSinceScrape: 150 });
    let drops = 0;
    b.view.onRelease(() => drops++);
    // A scrape sent before a's report may not have seen that work: it keeps counting.
    b.scrapes.markScraped(E, clock.now() - 3 * T);
    expect(b.view.load(E).requestsSinceScrape).toBe(2);
    // One sent after it has: only the requests still in flight remain.
    b.scrapes.markScraped(E, clock.now());
    expect(b.view.load(E)).toMatchObject({ requests: 2, requestsSinceScrape: 0 });
    expect(drops).toBe(1);
    a.tracker.end(t1);
    await tick(clock, 2 * T + 1);
    // a's new report postdates b's scrape, so its one unseen request counts again until b's next scrape (the
    // safe error: counted twice for a moment, never missed).
    expect(b.view.load(E)).toMatchObject({ requests: 1, requestsSinceScrape: 1 });
    b.scrapes.markScraped(E, clock.now());
    expect(b.view.load(E)).toMatchObject({ requests: 1, requestsSinceScrape: 0 });
    // b's own dispatches add to the others' at once.
    b.tracker.begin(E, 10);
    expect(b.view.load(E)).toMatchObject({ requests: 2, requestsSinceScrape: 1 });
  });

  it('between two syncs, a replica of an idle pool counts n - 1 more for each of its own dispatches; the next sync replaces the estimate by the reports', async () => {
    const clock = new ManualClock(0);
    const hub = new MemoryHub(clock);
    const rs = ['a', 'b', 'c'].map((o) => replica(clock, hub, o));
    for (const r of rs) r.exchange.start();
    await tick(clock, 3 * T);
    const [a, b, c] = rs as [(typeof rs)[0], (typeof rs)[0], (typeof rs)[0]];
    // A burst reaches every replica in the same instant: each sees its own two and estimates the others' four.
    for (const r of rs) {
      r.tracker.begin(E, 10);
      r.tracker.begin(E, 10);
    }
    expect(a.view.load(E)).toMatchObject({ requests: 2 + 4, requestsSinceScrape: 2 + 4, tokens: 20 + 40 });
    let drops = 0;
    a.view.onRelease(() => drops++);
    await tick(clock, 2 * T + 1);
    // Synced: the estimate gives way to what b and c reported (the same here), and the gate is told.
    expect(a.view.load(E)).toMatchObject({ requests: 6, requestsSinceScrape: 6 });
    expect(drops).toBeGreaterThan(0);
    // Traffic on a alone from now on: b and c are busy as much as a (ratio 2), so a's next one counts 3.
    a.tracker.begin(E, 10);
    expect(a.view.load(E).requests).toBe(6 + 1 + 2);
    expect(b.view.load(E).requests).toBe(6);
    void c;
  });

  it('forgets a dead replica\'s counts within its TTL, and counts nobody else\'s while the store is down', async () => {
    const clock = new ManualClock(0);
    const hub = new MemoryHub(clock);
    const a = replica(clock, hub, 'a');
    const b = replica(clock, hub, 'b');
    const c = replica(clock, hub, 'c');
    for (const r of [a, b, c]) r.exchange.start();
    await tick(clock, 2 * T);
    a.tracker.begin(E, 1);
    c.tracker.begin(E, 1);
    await tick(clock, 2 * T + 1);
    expect(b.view.load(E).requests).toBe(3 - 1);
    (a.exchange as unknown as { state: string }).state = 'closed'; // a dies
    await tick(clock, a.exchange.ttlMs - 2 * T);
    expect(b.view.load(E).requests).toBe(3 - 1); // a pause shorter than the TTL forgets nothing
    await tick(clock, 3 * T + 1);
    expect(b.view.load(E).requests).toBe(1);
    hub.setReachable(false);
    await tick(clock, T + 1);
    expect(b.exchange.isUp).toBe(false);
    expect(b.view.load(E).requests).toBe(0);
  });
});

describe('peer load changes by endpoint', () => {
  const view = (fields: Map<string, string>, connected = true) => ({
    connected,
    peers: new Map([['b', fields]]),
    stale: new Set<string>(),
    changed: new Set(['b']),
    granted: new Map<string, number>(),
    toLocal: (ms: number) => ms,
    toShared: (ms: number) => ms,
  });

  it('names each endpoint whose peer load a round moved, once per version step: a round that rewrites one of a peer\'s fields names that endpoint only; a field no longer reported or malformed drops its load', () => {
    const channel = new InflightChannel({ local: new InflightTracker(), endpoints: () => ['e:1', 'e:2', 'e:3'], time: { toShared: (ms) => ms, toLocal: (ms) => ms } });
    const named: string[] = [];
    const dropped: string[] = [];
    channel.onLoadChange((id) => named.push(id));
    channel.onDrop((id) => dropped.push(id));
    const fields = new Map([
      ['e:1', '2,200,1,100,0,0,5'],
      ['e:2', '1,100,0,0,0,0,5'],
      ['e:3', '4,400,2,200,0,0,5'],
    ]);
    channel.apply(view(fields));
    expect(named.sort()).toEqual(['e:1', 'e:2', 'e:3']);
    expect(channel.version).toBe(3);
    named.length = 0;
    // The store returns the peer's fields whole; only e:2's changed.
    channel.apply(view(new Map([...fields, ['e:2', '3,300,2,200,0,0,9']])));
    expect(named).toEqual(['e:2']);
    expect(channel.peerLoad('e:2')).toMatchObject({ requests: 3, requestsSinceScrape: 2 });
    expect(channel.version).toBe(4);
    // The same answer again moves nothing.
    channel.apply(view(new Map([...fields, ['e:2', '3,300,2,200,0,0,9']])));
    expect(channel.version).toBe(4);
    // e:1 no longer reported, e:3 garbled: both fall to no load, and the gate hears of it.
    named.length = 0;
    channel.apply(view(new Map([['e:2', '3,300,2,200,0,0,9'], ['e:3', '4,x']])));
    expect(named.sort()).toEqual(['e:1', 'e:3']);
    expect(dropped.sort()).toEqual(['e:1', 'e:3']);
    expect(channel.peerLoad('e:1').requests).toBe(0);
    expect(channel.peerLoad('e:3').requests).toBe(0);
    expect(channel.peerLoad('e:2').requests).toBe(3);
    expect(channel.version).toBe(6);
    // Local-only: every reported load is dropped, each named.
    named.length = 0;
    channel.apply(view(new Map(), false));
    expect(named).toEqual(['e:2']);
    expect(channel.peerLoad('e:2').requests).toBe(0);
  });

  it('an estimate that the next round drops is named, and told to the gate even when only its tokens fall', () => {
    const tracker = new InflightTracker();
    const channel = new InflightChannel({ local: tracker, endpoints: () => ['e:1', 'e:2'], time: { toShared: (ms) => ms, toLocal: (ms) => ms } });
    for (let i = 0; i < 4; i++) tracker.begin('e:1', 100);
    const fields = new Map([['e:2', '1,100,0,0,0,0,5']]);
    // The others hold 1 request per 4 of this replica's: each own dispatch counts a quarter more, rounded.
    channel.apply(view(fields));
    const named: string[] = [];
    const dropped: string[] = [];
    channel.onLoadChange((id) => named.push(id));
    channel.onDrop((id) => dropped.push(id));
    tracker.begin('e:1', 400);
    expect(channel.peerLoad('e:1')).toMatchObject({ requests: 0, tokens: 100, tokensSinceScrape: 100 });
    // The next round (nothing new from the peer) restarts the estimate from the reports.
    channel.apply(view(fields));
    expect(channel.peerLoad('e:1')).toMatchObject({ requests: 0, tokens: 0 });
    expect(named).toEqual(['e:1']);
    expect(dropped).toEqual(['e:1']);
  });
  it('a scrape that the local ledger saw nothing of still restarts the estimate from all own unseen dispatches, and names the endpoint', () => {
    const clock = new ManualClock(0);
    const tracker = new InflightTracker({ clock });
    const channel = new InflightChannel({ local: tracker, endpoints: () => ['e:1', 'e:2'], time: { toShared: (ms) => ms, toLocal: (ms) => ms }, clock });
    clock.advance(10);
    for (let i = 0; i < 4; i++) tracker.begin('e:1', 100);
    // The others hold 1 request per 4 of this replica's; the 4 so far are in the reports.
    channel.apply(view(new Map([['e:2', '1,100,0,0,0,0,5']])));
    for (let i = 0; i < 4; i++) tracker.begin('e:1', 100);
    expect(channel.peerLoad('e:1').requests).toBe(1); // round(4 unseen / 4)
    const named: string[] = [];
    channel.onLoadChange((id) => named.push(id));
    // A scrape sent before all 8: the ledger keeps its counts, but none of the 8 is in the others' reports now.
    tracker.markScraped('e:1', 5);
    channel.markScraped('e:1', 5);
    expect(channel.peerLoad('e:1').requests).toBe(2); // round(8 unseen / 4)
    expect(named).toEqual(['e:1']);
  });
});

describe('scrape once per pool', () => {
  const sharings: ScrapeSharing[] = [];
  const reachabilities: PoolReachability[] = [];
  afterEach(async () => {
    pageOrRefused.current = { kind: 'text', text: VLLM_PAGE };
    for (const r of reachabilities.splice(0)) r.close();
    for (const s of sharings.splice(0)) await s.close();
  });

  const REFUSED = { kind: 'error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' } as const;
  const pageOrRefused = { current: { kind: 'text', text: VLLM_PAGE } as ScriptedFetcher['respond'] };

  function replica(clock: ManualClock, hub: MemoryHub, origin: string, fetchers: ScriptedFetcher[]) {
    const tracker = new InflightTracker({ clock });
    const exchange = new SharedStateExchange({ transport: hub.transport(), origin, clock, syncIntervalMs: T });
    // Read only on evidence, after `sharing` exists.
    const reachability = new PoolReachability({ poolSize: () => sharing.pool.current().endpoints.length, clock, unreachableAfterMs: 300, unresponsiveAfterMs: 600 });
    const sharing: ScrapeSharing = new ScrapeSharing({
      source: new StaticEndpointSource([{ host: 'pod-a', port: 8000 }, { host: 'pod-b', port: 8000 }]),
      scrapeListener: fanOutScrapes({ inflight: tracker, reachability }, new ObserverFaults(noopLogger)),
      scrape: {
        scrapeIntervalMs: 50,
        staggerStart: false,
        // Backoff after refused scrapes is jittered: a seeded source and a 100 ms cap keep the test's timeline
        // (recovery seen within 300 ms of the pool answering again) independent of chance.
        maxBackoffMs: 100,
        random: new SeededRandom(7),
        fetcherFactory: (target) => {
          const f = new ScriptedFetcher(target);
          f.respond = pageOrRefused.current;
          fetchers.push(f);
          return f;
        },
      },
      exchange,
      staleAfterMs: 200,
      clock,
    });
    exchange.register(sharing);
    sharings.push(sharing);
    reachabilities.push(reachability);
    return { tracker, exchange, sharing, fetchers, reachability };
  }

  const calls = (fetchers: readonly ScriptedFetcher[]): number => fetchers.reduce((s, f) => s + f.calls, 0);
  /** Replicas of the same pool, started, past the start-up half second in which everyone scrapes. */
  async function startedReplicas(origins: readonly string[]) {
    const clock = new ManualClock(0);
    const hub = new MemoryHub(clock);
    const fetchers: ScriptedFetcher[][] = origins.map(() => []);
    const rs = origins.map((o, i) => replica(clock, hub, o, fetchers[i]!));
    for (const r of rs) {
      r.exchange.start();
      await r.sharing.start();
    }
    await tick(clock, 500);
    /** Every replica's fetchers, and those made from now on, answer `respond`. */
    const setAll = (respond: ScriptedFetcher['respond']): void => {
      pageOrRefused.current = respond;
      for (const f of fetchers.flat()) f.respond = respond;
    };
    return { clock, hub, fetchers, rs, setAll };
  }

  const fresh = (s: ScrapeSharing): boolean => s.pool.current().endpoints.every((e) => !e.stale && e.metrics?.waitingQueue === 3);

  it('one replica scrapes, every replica sees fresh metrics; the scrape load does not grow with the replica count', async () => {
    // Past start-up, when everyone scrapes until the leader's scrapes arrive.
    const { clock, fetchers, rs } = await startedReplicas(['a', 'b', 'c']);
    const before = fetchers.map(calls);
    await tick(clock, 1_000);
    const during = fetchers.map((f, i) => calls(f) - before[i]!);
    expect(rs.map((r) => r.sharing.stats().leader).filter(Boolean)).toHaveLength(1);
    // 2 endpoints every 50 ms for 1 s: about 40 scrapes in all, by one replica.
    expect(during.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(36);
    expect(during.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(44);
    expect(during.filter((n) => n > 0)).toHaveLength(1);
    expect(rs.every((r) => fresh(r.sharing))).toBe(true);
    expect(rs.filter((r) => !r.sharing.stats().leader).every((r) => r.sharing.stats().sharedApplied > 0)).toBe(true);
  });

  it('a follower lands each sync\'s shared scrapes in one pool snapshot, not one per endpoint', async () => {
    const { clock, rs } = await startedReplicas(['a', 'b']);
    const follower = rs.find((r) => !r.sharing.stats().leader);
    expect(follower).toBeDefined();
    let snapshots = 0;
    const stop = follower!.sharing.pool.subscribe(() => snapshots++);
    const appliedBefore = follower!.sharing.stats().sharedApplied;
    await tick(clock, 1_000);
    stop();
    const applied = follower!.sharing.stats().sharedApplied - appliedBefore;
    // Both pods are scraped in the same round (no stagger) and shared in the same sync: ~40 applied in ~20 syncs.
    expect(applied).toBeGreaterThanOrEqual(30);
    expect(snapshots).toBeLessThanOrEqual(applied / 2 + 2);
    expect(fresh(follower!.sharing)).toBe(true);
  });

  it('every replica learns that the pool is unreachable from the shared scrapes, and that it answers again', async () => {
    const { clock, rs, setAll } = await startedReplicas(['a', 'b', 'c']);
    expect(rs.every((r) => fresh(r.sharing))).toBe(true);
    setAll(REFUSED);
    await tick(clock, 250);
    expect(rs.map((r) => r.reachability.current().reachable)).toEqual([true, true, true]);
    await tick(clock, 400);
    expect(rs.map((r) => r.reachability.current().reachable)).toEqual([false, false, false]);
    setAll({ kind: 'text', text: VLLM_PAGE });
    await tick(clock, 300);
    expect(rs.map((r) => r.reachability.current().reachable)).toEqual([true, true, true]);
  });

  it('every replica learns that the pool is frozen (connections accepted, not a byte back in time) from the shared scrapes, after the longer bound; late pages are answers', async () => {
    const { clock, rs, setAll } = await startedReplicas(['a', 'b', 'c']);
    expect(rs.every((r) => fresh(r.sharing))).toBe(true);
    // Late pages (bytes came, or an earlier answer late): the pods answer, the pool stays reachable.
    setAll({ kind: 'fail', failure: new ScrapeFailure('slow', 'no complete answer within the scrape timeout (connected: the metrics page is slow)') });
    await tick(clock, 1_200);
    expect(rs.map((r) => r.reachability.current().reachable)).toEqual([true, true, true]);
    setAll({ kind: 'fail', failure: new ScrapeFailure('silent', 'no complete answer within the scrape timeout (connected: not a byte came back)') });
    await tick(clock, 450); // past unreachableAfterMs: that bound is for refused connections
    expect(rs.map((r) => r.reachability.current().reachable)).toEqual([true, true, true]);
    await tick(clock, 400);
    expect(rs.map((r) => r.reachability.current().kind)).toEqual(['unresponsive', 'unresponsive', 'unresponsive']);
    setAll({ kind: 'text', text: VLLM_PAGE });
    await tick(clock, 300);
    expect(rs.map((r) => r.reachability.current().reachable)).toEqual([true, true, true]);
  });

  it('a follower takes over when the scraper dies, and everyone scrapes while the store is down', async () => {
    const { clock, hub, rs } = await startedReplicas(['a', 'b']);
    const leader = rs.find((r) => r.sharing.stats().leader)!;
    const follower = rs.find((r) => r !== leader)!;
    // The leader dies: no more rounds, no more scrapes.
    (leader.exchange as unknown as { state: string }).state = 'closed';
    await leader.sharing.close();
    let staleSeen = false;
    for (let t = 0; t < 500; t += 5) {
      await tick(clock, 5);
      if (!fresh(follower.sharing)) staleSeen = true;
    }
    expect(follower.sharing.stats()).toMatchObject({ leader: true, scraping: true });
    expect(staleSeen).toBe(false);
    hub.setReachable(false);
    await tick(clock, 300);
    expect(follower.sharing.stats().scraping).toBe(true);
    expect(fresh(follower.sharing)).toBe(true);
  });
});
