// The fairness channel's view of a stale peer (silent past its heartbeat window, maybe crashed): its service
// stays in the sums, but its queued tenants leave the pool-wide backlog, so no replica holds a tenant against the
// pool minimum that only a dead replica could serve; once fresh again its tenants count as queued again.
import { describe, expect, it } from 'vitest';
import { FairnessChannel, type PeerView } from '../../../src/sharedstate/index.js';

function view(peers: Record<string, Record<string, string>>, stale: string[], changed: string[]): PeerView {
  return {
    connected: true,
    peers: new Map(Object.entries(peers).map(([origin, fields]) => [origin, new Map(Object.entries(fields))])),
    stale: new Set(stale),
    changed: new Set(changed),
    granted: new Map(),
    toLocal: (ms) => ms,
    toShared: (ms) => ms,
  };
}

describe('fairness channel', () => {
  it('a stale peer\'s queued tenants leave the backlog while its service stays counted', () => {
    const channel = new FairnessChannel();
    const band = channel.join(0, { changes: () => [], peersChanged: () => {} });
    const peers = { r1: { '0|a': '40,0,1' }, r2: { '0|a': '10,0,0', '0|b': '5,0,1' } };
    channel.apply(view(peers, [], ['r1', 'r2']));
    expect([...band.backlogged().keys()].sort()).toEqual(['a', 'b']);
    // r1 falls silent: only its flag changes (its data is unchanged, kept by the TTL floor).
    channel.apply(view(peers, ['r1'], ['r1']));
    expect([...band.backlogged().keys()]).toEqual(['b']);
    expect(band.tenant('a')).toEqual({ service: 50, floor: 0, backlogged: false });
    expect(band.totalService()).toBe(55);
    channel.apply(view(peers, [], ['r1']));
    expect([...band.backlogged().keys()].sort()).toEqual(['a', 'b']);
  });
});
