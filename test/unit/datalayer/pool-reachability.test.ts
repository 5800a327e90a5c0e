import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { PoolReachability, type ReachabilityState } from '../../../src/datalayer/index.js';

function setup(ids: string[], afterMs = 1_000, unresponsiveAfterMs = 5_000) {
  const clock = new ManualClock(0);
  const members = new Set(ids);
  const tracker = new PoolReachability({ poolSize: () => members.size, clock, unreachableAfterMs: afterMs, unresponsiveAfterMs });
  const changes: ReachabilityState[] = [];
  tracker.subscribe((s) => changes.push(s));
  return { clock, members, tracker, changes };
}

describe('PoolReachability', () => {
  it('turns unreachable only once every endpoint has failed for the whole window, and back at the first answer', () => {
    const { clock, tracker, changes } = setup(['a', 'b']);
    tracker.markScraped('a');
    tracker.markScraped('b');
    clock.advance(100);
    tracker.scrapeFailed('a', true, 'ECONNREFUSED');
    clock.advance(400);
    tracker.scrapeFailed('b', true, 'ECONNREFUSED'); // the newest streak starts at 500
    clock.advance(900);
    expect(tracker.current().reachable).toBe(true); // a has failed 1,300 ms, but b only 900
    clock.advance(100);
    expect(tracker.current()).toMatchObject({ reachable: false, since: 1_500, endpoints: 2, lastFailure: { endpoint: 'b', reason: 'ECONNREFUSED' } });
    // Repeated failures change nothing and notify nobody again.
    for (let i = 0; i < 10; i++) {
      clock.advance(50);
      tracker.scrapeFailed('a', true, 'ECONNREFUSED');
    }
    expect(changes.map((c) => c.reachable)).toEqual([false]);
    tracker.markScraped('b');
    expect(tracker.current()).toMatchObject({ reachable: true, since: 2_000 });
    expect(changes.map((c) => c.reachable)).toEqual([false, true]);
  });

  it('an endpoint answering badly (HTTP error, unparsable metrics) is reachable: late metrics are not an outage', () => {
    const { clock, tracker } = setup(['a', 'b']);
    tracker.scrapeFailed('a', true, 'ECONNREFUSED');
    for (let t = 0; t < 5_000; t += 50) {
      clock.advance(50);
      tracker.scrapeFailed('b', false, 'HTTP status 500');
    }
    expect(tracker.current().reachable).toBe(true);
  });

  it('an endpoint with no evidence yet (a pod just added) keeps the pool reachable; its removal does not reset the clock', () => {
    const { clock, members, tracker } = setup(['a', 'b', 'c']);
    tracker.scrapeFailed('a', true, 'timed out');
    tracker.scrapeFailed('b', true, 'timed out');
    clock.advance(5_000);
    expect(tracker.current().reachable).toBe(true); // c has said nothing
    members.delete('c');
    tracker.forget('c');
    expect(tracker.current().reachable).toBe(false); // a and b have failed for 5 s already
  });

  it('forgetting the endpoint with the newest streak moves the deadline to the older streaks', () => {
    const { clock, members, tracker } = setup(['a', 'b']);
    tracker.scrapeFailed('a', true, 'refused');
    clock.advance(800);
    tracker.scrapeFailed('b', true, 'refused');
    clock.advance(300); // a: 1,100 ms, b: 300 ms
    expect(tracker.current().reachable).toBe(true);
    members.delete('b');
    tracker.forget('b');
    expect(tracker.current().reachable).toBe(false);
  });

  it('fires at the deadline by timer, with no further evidence', () => {
    const { clock, tracker, changes } = setup(['a'], 700);
    tracker.scrapeFailed('a', true, 'timed out');
    clock.advance(699);
    expect(changes).toHaveLength(0);
    clock.advance(1);
    expect(changes.map((c) => [c.reachable, c.since])).toEqual([[false, 700]]);
  });

  it('front-end evidence counts for known endpoints only; an answered request ends the outage', () => {
    const { clock, members, tracker } = setup(['a']);
    tracker.failed('ghost', 'refused'); // never scraped: not a member as far as the tracker knows
    tracker.scrapeFailed('a', true, 'refused');
    clock.advance(2_000);
    expect(tracker.current().reachable).toBe(false);
    tracker.answered('a');
    expect(tracker.current().reachable).toBe(true);
    tracker.failed('a', 'connection refused by the model server');
    clock.advance(1_000);
    expect(tracker.current().reachable).toBe(false);
    expect(members.size).toBe(1);
  });

  it('an empty pool is never "unreachable": nothing failed (scale from zero holds requests)', () => {
    const { clock, members, tracker } = setup([]);
    clock.advance(10_000);
    tracker.scrapeFailed('gone', true, 'refused');
    clock.advance(10_000);
    expect(members.size).toBe(0);
    expect(tracker.current().reachable).toBe(true);
  });

  it('frozen pods (connections accepted, no answer within the scrape timeout) make the pool unresponsive after unresponsiveAfterMs, and one answer ends it', () => {
    const { clock, tracker, changes } = setup(['a', 'b']);
    tracker.markScraped('a');
    tracker.markScraped('b');
    tracker.scrapeFailed('a', false, 'silent: no byte in 200 ms', 'silent');
    clock.advance(1_000);
    tracker.scrapeFailed('b', false, 'silent: no byte in 200 ms', 'silent'); // the newest failing streak starts at 1,000
    clock.advance(4_999);
    expect(tracker.current().reachable).toBe(true); // past unreachableAfterMs: that bound is for refused connections
    clock.advance(1);
    expect(tracker.current()).toMatchObject({ reachable: false, kind: 'unresponsive', afterMs: 5_000, since: 6_000, endpoints: 2, lastFailure: { endpoint: 'b' } });
    tracker.markScraped('a');
    expect(changes.map((c) => [c.reachable, c.kind])).toEqual([[false, 'unresponsive'], [true, undefined]]);
  });

  it('refusing and frozen endpoints together count from the newest failing streak under unresponsiveAfterMs; all refusing, under the shorter bound', () => {
    const { clock, tracker } = setup(['a', 'b']);
    tracker.scrapeFailed('a', true, 'connect: refused');
    clock.advance(500);
    tracker.scrapeFailed('b', false, 'silent', 'silent'); // b: failing from 500 on
    clock.advance(2_000);
    tracker.scrapeFailed('b', true, 'connect: refused'); // b refuses from 2,500: its failing streak still began at 500
    clock.advance(999);
    expect(tracker.current().reachable).toBe(true);
    clock.advance(1);
    expect(tracker.current()).toMatchObject({ reachable: false, kind: 'unreachable', afterMs: 1_000, since: 3_500 });

    const mixed = setup(['a', 'b']);
    mixed.tracker.scrapeFailed('a', true, 'connect: refused');
    mixed.clock.advance(300);
    mixed.tracker.scrapeFailed('b', false, 'silent', 'silent');
    mixed.clock.advance(2_000); // a has refused for 2.3 s, but b is only silent
    mixed.tracker.scrapeFailed('b', false, 'silent', 'silent'); // the same evidence again changes nothing
    expect(mixed.tracker.current().reachable).toBe(true);
    mixed.clock.advance(3_000); // 5 s since b's streak began at 300
    expect(mixed.tracker.current()).toMatchObject({ reachable: false, kind: 'unresponsive', afterMs: 5_000, since: 5_300 });
  });

  it('an endpoint turning from refusing to frozen keeps its failing streak but leaves the refused run', () => {
    const { clock, tracker } = setup(['a']);
    tracker.scrapeFailed('a', true, 'connect: refused');
    clock.advance(800);
    tracker.scrapeFailed('a', false, 'silent', 'silent'); // the pod is up again, and hung
    clock.advance(1_000); // 1.8 s refused-or-silent, but not refusing any more
    expect(tracker.current().reachable).toBe(true);
    clock.advance(3_200); // 5 s since the streak began at 0
    expect(tracker.current()).toMatchObject({ reachable: false, kind: 'unresponsive', since: 5_000 });
  });

  it('each bound turns off on its own: unresponsiveAfterMs 0 keeps silent scrapes as answers; unreachableAfterMs 0 keeps refusals from counting at all', () => {
    const noFrozen = setup(['a'], 1_000, 0);
    noFrozen.tracker.scrapeFailed('a', false, 'silent', 'silent');
    noFrozen.clock.advance(60_000);
    expect(noFrozen.tracker.current().reachable).toBe(true);
    noFrozen.tracker.scrapeFailed('a', true, 'connect: refused');
    noFrozen.clock.advance(1_000);
    expect(noFrozen.tracker.current()).toMatchObject({ reachable: false, kind: 'unreachable', afterMs: 1_000 });

    // unreachableAfterMs 0: a refusing pool is held to the TTL however long it refuses (the Go EPP's behaviour).
    const frozenOnly = setup(['a', 'b'], 0, 5_000);
    frozenOnly.tracker.scrapeFailed('a', true, 'connect: refused');
    frozenOnly.tracker.scrapeFailed('b', false, 'silent', 'silent');
    frozenOnly.clock.advance(60_000);
    expect(frozenOnly.tracker.current().reachable).toBe(true);
    // a's streak toward the unresponsive bound starts when it turns silent, not when it began refusing.
    frozenOnly.tracker.scrapeFailed('a', false, 'silent', 'silent');
    frozenOnly.clock.advance(4_999);
    expect(frozenOnly.tracker.current().reachable).toBe(true);
    frozenOnly.clock.advance(1);
    expect(frozenOnly.tracker.current()).toMatchObject({ reachable: false, kind: 'unresponsive', afterMs: 5_000, since: 65_000 });
  });

  it('the kind is the bound that fired: refusing endpoints with a long streak of silence before go unresponsive, not unreachable', () => {
    const { clock, tracker } = setup(['a'], 3_000, 5_000);
    tracker.scrapeFailed('a', false, 'silent', 'silent'); // failing from 0
    clock.advance(4_000);
    tracker.scrapeFailed('a', true, 'connect: refused'); // refusing from 4,000: that bound would run out at 7,000
    clock.advance(1_000);
    expect(tracker.current()).toMatchObject({ reachable: false, kind: 'unresponsive', afterMs: 5_000, since: 5_000 });
  });

  it("a late page ('slow': bytes came, or an earlier answer came late) is an answer, however long it lasts", () => {
    const { clock, tracker } = setup(['a', 'b'], 1_000, 2_000);
    for (let t = 0; t < 20_000; t += 250) {
      tracker.scrapeFailed('a', false, 'slow', 'slow');
      tracker.scrapeFailed('b', false, 'slow', 'slow');
      clock.advance(250);
    }
    expect(tracker.current().reachable).toBe(true);
  });

  it('a departed endpoint answered through a front end after it left does not stand in for a member (pool {a frozen, b healthy})', () => {
    const { clock, members, tracker } = setup(['a', 'b', 'x'], 1_000, 2_000);
    tracker.markScraped('x');
    members.delete('x');
    tracker.forget('x');
    tracker.answered('x'); // onServed: a request in flight to the terminating pod ends after it left
    tracker.failed('x', 'connection refused by the model server'); // onConnectFailure: a retry to it
    tracker.markScraped('b');
    tracker.scrapeFailed('a', false, 'silent', 'silent');
    for (let t = 0; t < 10_000; t += 50) {
      clock.advance(50);
      tracker.markScraped('b');
      if (t % 1_000 === 0) tracker.scrapeFailed('a', false, 'silent', 'silent');
    }
    expect(tracker.current().reachable).toBe(true);
    // Only members count: with b gone too, a alone is the pool and its silence decides.
    members.delete('b');
    tracker.forget('b');
    expect(tracker.current()).toMatchObject({ reachable: false, kind: 'unresponsive', endpoints: 1 });
  });

  it('forgetting the frozen endpoint with the newest streak moves the unresponsive deadline to the older streaks', () => {
    const { clock, members, tracker } = setup(['a', 'b']);
    tracker.scrapeFailed('a', false, 'silent', 'silent');
    clock.advance(4_000);
    tracker.scrapeFailed('b', false, 'silent', 'silent');
    clock.advance(1_500); // a: 5.5 s, b: 1.5 s
    expect(tracker.current().reachable).toBe(true);
    members.delete('b');
    tracker.forget('b');
    expect(tracker.current()).toMatchObject({ reachable: false, kind: 'unresponsive' });
  });
});
