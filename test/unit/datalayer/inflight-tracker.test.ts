import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { InflightTracker, NO_INFLIGHT } from '../../../src/datalayer/index.js';

describe('InflightTracker', () => {
  it('counts requests and tokens per endpoint, all of them unseen until a scrape', () => {
    const tracker = new InflightTracker({ clock: new ManualClock() });
    tracker.begin('a:1', 100);
    tracker.begin('a:1', 50);
    tracker.begin('b:1', 10);
    expect(tracker.load('a:1')).toEqual({
      requests: 2,
      tokens: 150,
      requestsSinceScrape: 2,
      tokensSinceScrape: 150,
      requestsEndedSinceScrape: 0,
      tokensEndedSinceScrape: 0,
      unstartedTokens: 0,
    });
    expect(tracker.load('b:1').requests).toBe(1);
    expect(tracker.load('c:1')).toBe(NO_INFLIGHT);
    expect(tracker.totalRequests()).toBe(3);
  });

  it('end() is idempotent and returns whether it released anything', () => {
    const tracker = new InflightTracker({ clock: new ManualClock() });
    const ticket = tracker.begin('a:1', 100);
    expect(tracker.end(ticket)).toBe(true);
    expect(tracker.end(ticket)).toBe(false);
    expect(tracker.load('a:1')).toBe(NO_INFLIGHT);
  });

  it('refuses tickets it did not issue', () => {
    const other = new InflightTracker({ clock: new ManualClock() });
    const tracker = new InflightTracker({ clock: new ManualClock() });
    const foreign = other.begin('a:1', 1);
    expect(() => tracker.end(foreign)).toThrow(/ticket/);
    expect(() => tracker.end({ endpointId: 'a:1', tokens: 1, beganAt: 0, unstartedTokens: 0 })).toThrow(/ticket/);
  });

  it('a scrape taken at T hides dispatches begun strictly before T from the since-scrape counts only', () => {
    const clock = new ManualClock();
    const tracker = new InflightTracker({ clock });
    tracker.begin('a:1', 10); // t=0
    clock.advance(5);
    tracker.begin('a:1', 20); // t=5, same instant as the scrape: assumed not seen
    clock.advance(5);
    tracker.begin('a:1', 40); // t=10
    tracker.markScraped('a:1', 5);
    expect(tracker.load('a:1')).toMatchObject({ requests: 3, tokens: 70, requestsSinceScrape: 2, tokensSinceScrape: 60 });
    tracker.markScraped('a:1', 11);
    expect(tracker.load('a:1')).toMatchObject({ requests: 3, tokens: 70, requestsSinceScrape: 0, tokensSinceScrape: 0 });
  });

  it('ending an unseen ticket lowers both totals and since-scrape counts; a later scrape does not lower them twice', () => {
    const clock = new ManualClock();
    const tracker = new InflightTracker({ clock });
    const a = tracker.begin('a:1', 10);
    tracker.begin('a:1', 20);
    tracker.end(a);
    expect(tracker.load('a:1')).toMatchObject({ requests: 1, requestsSinceScrape: 1, tokensSinceScrape: 20 });
    clock.advance(1);
    tracker.markScraped('a:1', 1);
    expect(tracker.load('a:1')).toMatchObject({ requests: 1, tokens: 20, requestsSinceScrape: 0, tokensSinceScrape: 0 });
  });

  it('a ticket a landed scrape had seen counts as ended-since-scrape when it ends, until the next scrape lands', () => {
    const clock = new ManualClock();
    const tracker = new InflightTracker({ clock });
    const seen = tracker.begin('a:1', 30); // t=0
    const other = tracker.begin('a:1', 5);
    clock.advance(1);
    tracker.markScraped('a:1', 1); // sees both
    tracker.end(seen);
    expect(tracker.load('a:1')).toEqual({
      requests: 1,
      tokens: 5,
      requestsSinceScrape: 0,
      tokensSinceScrape: 0,
      requestsEndedSinceScrape: 1,
      tokensEndedSinceScrape: 30,
      unstartedTokens: 0,
    });
    clock.advance(1);
    tracker.markScraped('a:1', 2); // taken after the end: its metrics reflect it, the credit goes
    expect(tracker.load('a:1')).toMatchObject({ requests: 1, requestsEndedSinceScrape: 0, tokensEndedSinceScrape: 0 });
    tracker.end(other);
    expect(tracker.load('a:1')).toMatchObject({ requests: 0, tokens: 0, requestsEndedSinceScrape: 1, tokensEndedSinceScrape: 5 });
  });

  it('a ticket begun after the last scrape that ends before the next one is never credited as ended', () => {
    const clock = new ManualClock();
    const tracker = new InflightTracker({ clock });
    tracker.begin('a:1', 1);
    clock.advance(1);
    tracker.markScraped('a:1', 1);
    const unseen = tracker.begin('a:1', 40); // t=1, same instant as the scrape's send: not seen
    tracker.end(unseen);
    expect(tracker.load('a:1')).toMatchObject({ requests: 1, requestsSinceScrape: 0, requestsEndedSinceScrape: 0, tokensEndedSinceScrape: 0 });
    clock.advance(1);
    tracker.markScraped('a:1', 2); // taken after it ended: not counted either
    expect(tracker.load('a:1')).toMatchObject({ requests: 1, requestsEndedSinceScrape: 0 });
  });

  it('keeps an idle endpoint\'s finished-work credit until its next scrape or forget(), then drops the ledger', () => {
    const clock = new ManualClock();
    const tracker = new InflightTracker({ clock });
    const t = tracker.begin('a:1', 7);
    const u = tracker.begin('b:1', 9);
    clock.advance(1);
    tracker.markScraped('a:1', 1);
    tracker.markScraped('b:1', 1);
    tracker.end(t);
    tracker.end(u);
    expect(tracker.load('a:1')).toMatchObject({ requests: 0, requestsEndedSinceScrape: 1, tokensEndedSinceScrape: 7 });
    expect(tracker.totalRequests()).toBe(0);
    const v = tracker.version;
    tracker.markScraped('a:1', 2);
    expect(tracker.version).toBeGreaterThan(v);
    expect(tracker.load('a:1')).toBe(NO_INFLIGHT);
    tracker.forget('b:1');
    expect(tracker.load('b:1')).toBe(NO_INFLIGHT);
  });

  it('bumps version on every change, notifies release listeners on end only', () => {
    const clock = new ManualClock();
    const tracker = new InflightTracker({ clock });
    const released: string[] = [];
    const unsubscribe = tracker.onRelease((id) => released.push(id));
    const v0 = tracker.version;
    const t = tracker.begin('a:1', 1);
    expect(tracker.version).toBeGreaterThan(v0);
    const v1 = tracker.version;
    clock.advance(1);
    tracker.begin('a:1', 1);
    tracker.markScraped('a:1', 1);
    expect(tracker.version).toBeGreaterThan(v1);
    expect(released).toEqual([]);
    tracker.end(t);
    expect(released).toEqual(['a:1']);
    unsubscribe();
    tracker.markScraped('a:1', 100);
    const v2 = tracker.version;
    tracker.markScraped('a:1', 200); // nothing left to reset
    expect(tracker.version).toBe(v2);
  });

  it('returns the same frozen load object until something changes', () => {
    const tracker = new InflightTracker({ clock: new ManualClock() });
    tracker.begin('a:1', 1);
    const first = tracker.load('a:1');
    expect(Object.isFrozen(first)).toBe(true);
    expect(tracker.load('a:1')).toBe(first);
    tracker.begin('a:1', 1);
    expect(tracker.load('a:1')).not.toBe(first);
  });

  it('validates arguments', () => {
    const tracker = new InflightTracker({ clock: new ManualClock() });
    expect(() => tracker.begin('', 1)).toThrow(/endpointId/);
    expect(() => tracker.begin('a:1', -1)).toThrow(/estimatedTokens/);
    expect(() => tracker.begin('a:1', Number.NaN)).toThrow(/estimatedTokens/);
  });

  it('property: counts (live, unseen, and ended-since-scrape among seen) always equal a naive model under any begin/end/scrape sequence', () => {
    type Op = { kind: 'begin'; ep: number; tokens: number } | { kind: 'end'; pick: number } | { kind: 'scrape'; ep: number } | { kind: 'tick' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('begin' as const), ep: fc.integer({ min: 0, max: 2 }), tokens: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ kind: fc.constant('end' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('scrape' as const), ep: fc.integer({ min: 0, max: 2 }) }),
      fc.constant({ kind: 'tick' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300, size: 'max' }), (ops) => {
        const clock = new ManualClock();
        const tracker = new InflightTracker({ clock });
        // endedSinceScrape: ended after its endpoint's last scrape landed, having been seen by a landed scrape.
        const model: { ticket: ReturnType<InflightTracker['begin']>; seen: boolean; live: boolean; endedSinceScrape: boolean }[] = [];
        for (const o of ops) {
          if (o.kind === 'begin') {
            model.push({ ticket: tracker.begin(`e${o.ep}`, o.tokens), seen: false, live: true, endedSinceScrape: false });
          } else if (o.kind === 'end' && model.length > 0) {
            const m = model[o.pick % model.length]!;
            tracker.end(m.ticket);
            if (m.live && m.seen) m.endedSinceScrape = true;
            m.live = false;
          } else if (o.kind === 'scrape') {
            const at = clock.now();
            tracker.markScraped(`e${o.ep}`, at);
            for (const m of model) {
              if (m.ticket.endpointId !== `e${o.ep}`) continue;
              m.endedSinceScrape = false;
              if (m.live && m.ticket.beganAt < at) m.seen = true;
            }
          } else clock.advance(1);
        }
        for (const ep of ['e0', 'e1', 'e2']) {
          const live = model.filter((m) => m.live && m.ticket.endpointId === ep);
          const unseen = live.filter((m) => !m.seen);
          const ended = model.filter((m) => m.endedSinceScrape && m.ticket.endpointId === ep);
          const expected = {
            requests: live.length,
            tokens: live.reduce((s, m) => s + m.ticket.tokens, 0),
            requestsSinceScrape: unseen.length,
            tokensSinceScrape: unseen.reduce((s, m) => s + m.ticket.tokens, 0),
            requestsEndedSinceScrape: ended.length,
            tokensEndedSinceScrape: ended.reduce((s, m) => s + m.ticket.tokens, 0),
            unstartedTokens: 0,
          };
          if (live.length === 0 && ended.length === 0) expect(tracker.load(ep)).toBe(NO_INFLIGHT); // no idle ledger kept
          else expect(tracker.load(ep)).toEqual(expected);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('InflightTracker.move (a fallback served the request)', () => {
  it('moves an unseen request to the served endpoint: gone from the first, unseen on the second', () => {
    const clock = new ManualClock();
    const tracker = new InflightTracker({ clock });
    const t = tracker.begin('a:1', 100);
    clock.advance(1);
    const moved = tracker.move(t, 'b:1');
    expect(tracker.load('a:1')).toBe(NO_INFLIGHT);
    expect(tracker.load('b:1')).toMatchObject({ requests: 1, tokens: 100, requestsSinceScrape: 1, tokensSinceScrape: 100 });
    expect(tracker.end(moved)).toBe(true);
    expect(tracker.end(t)).toBe(false); // the first ticket ended with the move
    expect(tracker.totalRequests()).toBe(0);
  });

  it('gives the first endpoint no finished-work credit, even after a scrape there counted the request', () => {
    const clock = new ManualClock();
    const tracker = new InflightTracker({ clock });
    const keep = tracker.begin('a:1', 10);
    const t = tracker.begin('a:1', 50);
    clock.advance(5);
    tracker.markScraped('a:1', 5); // both seen
    const moved = tracker.move(t, 'b:1');
    // Never ran on a:1, so nothing finished there: no credit that would open the gate early.
    expect(tracker.load('a:1')).toMatchObject({ requests: 1, tokens: 10, requestsSinceScrape: 0, requestsEndedSinceScrape: 0 });
    expect(tracker.load('b:1').requests).toBe(1);
    expect(tracker.move(moved, 'b:1')).toBe(moved); // same endpoint: nothing to do
    tracker.end(moved);
    tracker.end(keep);
    expect(tracker.end(keep)).toBe(false);
    // An ended ticket is returned unchanged and counts nowhere.
    expect(tracker.move(keep, 'c:1')).toBe(keep);
    expect(tracker.load('c:1')).toBe(NO_INFLIGHT);
  });

  describe('unstarted prompt tokens (prefill the server still owes)', () => {
    it('counts a streamed prompt until its first byte, once, and a plain request not at all', () => {
      const tracker = new InflightTracker({ clock: new ManualClock() });
      const released: string[] = [];
      tracker.onRelease((id) => released.push(id));
      const a = tracker.begin('a:1', 1_152, 1_024);
      const b = tracker.begin('a:1', 320, 256);
      const plain = tracker.begin('a:1', 500); // no first-token signal: never counted
      expect(tracker.load('a:1').unstartedTokens).toBe(1_280);
      expect(a.unstartedTokens).toBe(1_024);
      const version = tracker.version;
      expect(tracker.started(a)).toBe(true);
      expect(tracker.version).toBeGreaterThan(version);
      expect(released).toEqual(['a:1']); // the backlog fell: the gate may reopen
      expect(tracker.load('a:1')).toMatchObject({ requests: 3, tokens: 1_972, unstartedTokens: 256 });
      expect(tracker.started(a)).toBe(false); // second first byte: nothing left to release
      expect(tracker.started(plain)).toBe(false);
      expect(tracker.end(b)).toBe(true); // ended before its first byte (error, eviction, client gone)
      expect(tracker.load('a:1').unstartedTokens).toBe(0);
      expect(tracker.started(b)).toBe(false); // a first byte after the end changes nothing
      tracker.end(a);
      tracker.end(plain);
      expect(tracker.load('a:1')).toBe(NO_INFLIGHT);
    });

    it('moves what is still unstarted with the request to the endpoint that served it', () => {
      const tracker = new InflightTracker({ clock: new ManualClock() });
      const t = tracker.begin('a:1', 600, 512);
      const moved = tracker.move(t, 'b:1');
      expect(tracker.load('a:1')).toBe(NO_INFLIGHT);
      expect(tracker.load('b:1').unstartedTokens).toBe(512);
      expect(tracker.started(moved)).toBe(true);
      const again = tracker.move(moved, 'c:1'); // started: nothing unstarted travels
      expect(tracker.load('c:1').unstartedTokens).toBe(0);
      tracker.end(again);
      expect(tracker.load('c:1')).toBe(NO_INFLIGHT);
    });

    it('refuses a negative or non-finite prompt count', () => {
      const tracker = new InflightTracker({ clock: new ManualClock() });
      expect(() => tracker.begin('a:1', 10, -1)).toThrow(/unstartedTokens/);
      expect(() => tracker.begin('a:1', 10, Number.NaN)).toThrow(/unstartedTokens/);
      expect(tracker.load('a:1')).toBe(NO_INFLIGHT);
    });

    it('property: every dispatched request releases its unstarted tokens exactly once (first byte, end, move or error), and the ledger always equals the sum over requests not started', () => {
      const endpoints = ['a:1', 'b:1', 'c:1'];
      const op = fc.oneof(
        fc.record({ kind: fc.constant('begin' as const), endpoint: fc.nat(2), prompt: fc.integer({ min: 0, max: 4_096 }) }),
        fc.record({ kind: fc.constantFrom('started' as const, 'end' as const, 'error' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), endpoint: fc.nat(2) }),
        fc.record({ kind: fc.constant('scrape' as const), endpoint: fc.nat(2) }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
          const clock = new ManualClock();
          const tracker = new InflightTracker({ clock });
          // The model: per live ticket, the tokens it still owes; a release anywhere must match it exactly.
          const live: { ticket: ReturnType<InflightTracker['begin']>; owed: number }[] = [];
          let releases = 0;
          let releasable = 0;
          const expectLedger = (): void => {
            for (const id of endpoints) {
              const owed = live.filter((l) => l.ticket.endpointId === id).reduce((sum, l) => sum + l.owed, 0);
              expect(tracker.load(id).unstartedTokens ?? 0).toBe(owed);
            }
          };
          for (const o of ops) {
            clock.advance(1);
            if (o.kind === 'begin') {
              const ticket = tracker.begin(endpoints[o.endpoint] ?? 'a:1', o.prompt + 100, o.prompt);
              live.push({ ticket, owed: o.prompt });
              if (o.prompt > 0) releasable++;
            } else if (o.kind === 'scrape') {
              tracker.markScraped(endpoints[o.endpoint] ?? 'a:1', clock.now());
            } else if (live.length > 0) {
              const i = o.pick % live.length;
              const l = live[i];
              if (l === undefined) continue;
              if (o.kind === 'started') {
                expect(tracker.started(l.ticket)).toBe(l.owed > 0);
                if (l.owed > 0) releases++;
                l.owed = 0;
                expect(tracker.started(l.ticket)).toBe(false); // never twice
              } else if (o.kind === 'move') {
                const target = endpoints[o.endpoint] ?? 'a:1';
                const moved = tracker.move(l.ticket, target);
                if (moved !== l.ticket) live[i] = { ticket: moved, owed: l.owed }; // still owed, now there
              } else {
                // 'end' and 'error' both end the ticket: an error is an end without a first byte.
                if (l.owed > 0) releases++;
                expect(tracker.end(l.ticket)).toBe(true);
                expect(tracker.started(l.ticket)).toBe(false);
                live.splice(i, 1);
              }
            }
            expectLedger();
          }
          for (const l of live.splice(0)) {
            if (l.owed > 0) releases++;
            tracker.end(l.ticket);
          }
          expectLedger();
          // Each request with a prompt to start released it once: a moved one counts once, where it ended.
          expect(releases).toBe(releasable);
          for (const id of endpoints) expect(tracker.load(id)).toMatchObject({ requests: 0, unstartedTokens: 0 });
        }),
        { seed: 1_313, numRuns: 300 },
      );
    });
  });
});
