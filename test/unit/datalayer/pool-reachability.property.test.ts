import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { PoolReachability, type ReachabilityState } from '../../../src/datalayer/index.js';

// A model of PoolReachability's contract, checked against it over random event sequences: pods join and leave,
// scrapes report on members only (as PoolMonitor and ScrapeSharing do), front ends report on any endpoint (a pod
// that has left included).

type Contact = 'answered' | 'unreachable' | 'unresponsive';
interface ModelEntry {
  contact: Contact;
  /** Start of the streak of failing either way. */
  failingSince: number;
  /** Start of the run of refusals. */
  unreachableSince: number;
  /** Start of the run of silence (accepted connections, not a byte). */
  unresponsiveSince: number;
}

type Event =
  | { readonly at: number; readonly kind: 'add' | 'forget' | 'scrape-ok' | 'refused' | 'silent' | 'slow' | 'bad' | 'front-answered' | 'front-failed'; readonly id: string };

const IDS = ['a', 'b', 'c', 'd'];
const event: fc.Arbitrary<Event> = fc.record({
  at: fc.integer({ min: 0, max: 1_500 }),
  kind: fc.constantFrom('add', 'forget', 'scrape-ok', 'refused', 'silent', 'slow', 'bad', 'front-answered', 'front-failed'),
  id: fc.constantFrom(...IDS),
});

function run(unreachableAfterMs: number, unresponsiveAfterMs: number, initial: readonly string[], events: readonly Event[]): void {
  const clock = new ManualClock(0);
  const members = new Set(initial);
  /** Members with scrape evidence since they joined (a member without counts as answered). */
  const model = new Map<string, ModelEntry>();
  const tracker = new PoolReachability({ poolSize: () => members.size, clock, unreachableAfterMs, unresponsiveAfterMs });

  /** Which bounds have run out now, by the model. */
  const verdict = (now: number): { byRefusals: boolean; bySilence: boolean } => {
    if (members.size === 0) return { byRefusals: false, bySilence: false };
    const entries = [...members].map((id) => model.get(id));
    const all = (contact: Contact | 'failing'): boolean =>
      entries.every((e) => e !== undefined && (contact === 'failing' ? e.contact !== 'answered' : e.contact === contact));
    const newest = (pick: (e: ModelEntry) => number): number => Math.max(...entries.map((e) => (e === undefined ? Number.POSITIVE_INFINITY : pick(e))));
    const byRefusals = unreachableAfterMs > 0 && all('unreachable') && now - newest((e) => e.unreachableSince) >= unreachableAfterMs;
    // With unreachableAfterMs 0 refusals count toward nothing: only every member silent counts, from its silence's start.
    const bySilence =
      unresponsiveAfterMs > 0 &&
      (unreachableAfterMs > 0
        ? all('failing') && now - newest((e) => e.failingSince) >= unresponsiveAfterMs
        : all('unresponsive') && now - newest((e) => e.unresponsiveSince) >= unresponsiveAfterMs);
    return { byRefusals, bySilence };
  };

  tracker.subscribe((state: ReachabilityState) => {
    if (state.reachable) return;
    // Turns unreachable only when every current member has failed for the bound that fired, and says which.
    const v = verdict(clock.now());
    if (state.kind === 'unreachable') expect(v.byRefusals).toBe(true);
    else expect(v.bySilence).toBe(true);
    expect(state.afterMs).toBe(state.kind === 'unreachable' ? unreachableAfterMs : unresponsiveAfterMs);
  });

  const evidence = (id: string, contact: Contact): void => {
    const now = clock.now();
    const e = model.get(id) ?? { contact: 'answered', failingSince: now, unreachableSince: now, unresponsiveSince: now };
    model.set(id, e);
    if (contact !== 'answered' && e.contact === 'answered') e.failingSince = now;
    if (contact === 'unreachable' && e.contact !== 'unreachable') e.unreachableSince = now;
    if (contact === 'unresponsive' && e.contact !== 'unresponsive') e.unresponsiveSince = now;
    e.contact = contact;
  };

  for (const ev of events) {
    clock.advance(ev.at);
    const member = members.has(ev.id);
    switch (ev.kind) {
      case 'add':
        members.add(ev.id);
        break;
      case 'forget':
        if (!member) break;
        members.delete(ev.id);
        model.delete(ev.id);
        tracker.forget(ev.id);
        break;
      case 'front-answered':
        if (model.has(ev.id)) evidence(ev.id, 'answered');
        tracker.answered(ev.id);
        break;
      case 'front-failed':
        if (model.has(ev.id)) evidence(ev.id, 'unreachable');
        tracker.failed(ev.id, 'connection refused by the model server');
        break;
      default: {
        if (!member) break; // scrapes report on members only
        const contact: Contact = ev.kind === 'refused' ? 'unreachable' : ev.kind === 'silent' ? 'unresponsive' : 'answered';
        evidence(ev.id, contact);
        if (ev.kind === 'scrape-ok') tracker.markScraped(ev.id);
        else if (ev.kind === 'refused') tracker.scrapeFailed(ev.id, true, 'connect', 'connect');
        else if (ev.kind === 'silent') tracker.scrapeFailed(ev.id, false, 'silent', 'silent');
        else if (ev.kind === 'slow') tracker.scrapeFailed(ev.id, false, 'slow', 'slow');
        else tracker.scrapeFailed(ev.id, false, 'http-status', 'http-status');
      }
    }
    const now = clock.now();
    const v = verdict(now);
    // Once a bound has run out for every current member, the pool is unreachable (the timer fired).
    if (v.byRefusals || v.bySilence) expect(tracker.current().reachable).toBe(false);
    // While unreachable, no member with evidence has answered since.
    if (!tracker.current().reachable) {
      for (const id of members) expect(model.get(id)?.contact ?? 'no evidence').not.toBe('answered');
    }
  }
  tracker.close();
}

describe('PoolReachability against a model', () => {
  const cases: Array<[string, number, number]> = [
    ['both bounds', 1_000, 3_000],
    ['unreachableAfterMs 0', 0, 3_000],
    ['unresponsiveAfterMs 0', 1_000, 0],
  ];
  for (const [name, unreachableAfterMs, unresponsiveAfterMs] of cases) {
    it(`property (${name}): unreachable only once every current member has refused for unreachableAfterMs or failed for unresponsiveAfterMs (kind: the bound that fired), always once one has, and a member's answer ends it`, () => {
      fc.assert(
        fc.property(fc.subarray(IDS), fc.array(event, { maxLength: 80 }), (initial, events) => run(unreachableAfterMs, unresponsiveAfterMs, initial, events)),
        { numRuns: 1_000 },
      );
    });
  }
});
