// weighted-fair across replicas: the same virtual-token-counter fair queuing as weighted-fair.ts, with each
// tenant's key being the pool-wide weighted service, so a tenant that spreads its traffic over several replicas
// gets one fair share, not one per replica. Every figure of the other replicas comes from the last sync of the
// FairnessExchange (src/sharedstate); no dispatch waits for it.
//
// The key. Replica r publishes, per tenant i of the band, its own weighted service c_r,i (estimated tokens /
// weight, corrected at release) and a lift floor o_r,i. The key is K_i = sum_r c_r,i + max_r o_r,i. Each replica
// writes only its own figures, so replicas never conflict, and floors combine by max, so two replicas lifting the
// same tenant at once do not lift it twice.
//
// Dispatch and hold. A replica picks, among its own queued tenants, the one with the smallest key as it sees it;
// it dispatches it only if that key is at most M + H, where M is the smallest key of every tenant queued anywhere
// in the pool (its own flows, and the tenants the others reported queued) and H the hold slack (below). Otherwise
// the band holds, as behind a closed gate, and the pool's capacity goes to the replica that has the tenant owed
// it. Without the hold a tenant queued on one replica only would get that replica's share of the dispatches, not
// its fair share of the pool.
//
// Bound. Let C be the largest normalised charge of one request (as in weighted-fair.ts), W = T + L the staleness
// of the others' figures (sync interval T plus the exchange's round trip L), and E the weighted service that the
// other replicas give one tenant within any window W (what a replica may not have seen yet; 0 when one replica
// serves the tenant). A replica's view of a key is never above the truth (the others' counters only grow) and at
// most E below it. So when i is dispatched, K_i <= K_j + H + E for every tenant j queued anywhere for at least W,
// and the charge adds at most C: the keys of any two such tenants stay within C + H + E of each other, and over
// any interval in which both stay backlogged their weighted service differs by at most 2 (C + H + E).
// With H = max(C, D), D being the weighted service the whole pool dispatched in the last sync interval, this is
// at most 2 (2C + 2D'), D' = the pool's weighted service in one window W: what R replicas with interval T add to
// the single-process 2C is 2C + 4D'. It grows with the dispatch rate times T, not with the run's length.
// (R = 1 shares nothing and keeps the single-process bound.) Release-time corrections move only the corrected
// tenant's key, as in weighted-fair.ts.
//
// Why H scales with D: with H = 0 or C, two tenants queued on different replicas could each advance only by about
// H + C past the other's last published key per sync interval, capping their dispatch rate at (H + C) / T whatever
// the pool's capacity. With H at least one interval of the pool's service, a tenant can run ahead by as much as
// the pool served, so holding never caps the pool's throughput; the slack adapts within a few intervals.
//
// Lifts (no credit hoarding). A tenant that becomes queued here with a key below this replica's virtual time V
// (the largest M seen) gets its floor raised so its key is V; so does a queued tenant whose key dropped below V
// because a dead replica's figures expired (the tenant gains at most its former lead over V). Unlike the single
// process, a returning tenant's key is not clamped down to V + C: what it used stays counted.
//
// Exchange down (local-only): the others' last known service and floors stay in the keys (so keys do not jump
// when the exchange fails), but no tenant counts as queued elsewhere: nothing holds, and the fast path is open
// again. What this replica serves meanwhile orders its own queues but is kept apart and never published: when
// the exchange is back the pool resumes from the keys it had before the outage, so a tenant that the outage
// favoured is not made to pay it back (no catch-up burst for the others; fairness holds again at once).
//
// Forgetting. A tenant's record outlives its flow while some other replica has the tenant queued (so its service
// here keeps counting); it is dropped once the flow is collected and no replica has the tenant queued: the key
// then restarts at the virtual time when the tenant returns, as it would after any idle period.
//
// Complexity: pick, activate, deactivate, charge, correct O(log active flows) plus one Map lookup; each sync
// (every T, off the request path) O(tenants known here + tenants queued elsewhere + changed keys x log flows).
import { type Flow } from '../../flow.js';
import {
  type FairnessBandPeers,
  type FairnessExchange,
  type OwnTenantRecord,
  type PeerTenantState,
} from '../../fairness-exchange.js';
import { type FairnessState } from './fairness-policy.js';
import { newFlowHeap } from './flow-heap.js';

/** Syncs after a rejoin before another replica's missing figures count as a departure (a live peer writes every sync). */
const REJOIN_GRACE_SYNCS = 4;

class TenantRecord implements OwnTenantRecord {
  service = 0;
  floor = 0;
  /** Service and lift floor from while the exchange was down: local ordering only, dropped at rejoin. */
  outageService = 0;
  outageFloor = 0;
  backlogged = false;
  deleted = false;
  /** The local flow while it is active (queued here), else undefined. */
  flow: Flow | undefined = undefined;
  /** The local flow was collected while another replica still had the tenant queued. */
  orphan = false;
  peer: PeerTenantState | undefined;

  constructor(readonly fairnessId: string) {}
}

export class SharedWeightedFairState implements FairnessState {
  private readonly heap = newFlowHeap(
    (a: Flow, b: Flow) => a.virtualService < b.virtualService || (a.virtualService === b.virtualService && a.seq < b.seq),
  );
  private readonly records = new Map<string, TenantRecord>();
  /** Records to publish at the next sync; a deleted record stays here until then. */
  private readonly dirty = new Map<string, TenantRecord>();
  private readonly peers: FairnessBandPeers;
  /** C: the largest normalised charge seen. */
  private maxCharge = 0;
  /** V: the largest pool-wide minimum key seen; where returning tenants land. */
  private virtualTime = 0;
  /** Smallest key of tenants queued only on other replicas (Infinity: none), refreshed at each sync. */
  private peerOnlyMin = Number.POSITIVE_INFINITY;
  /** Own weighted service summed over tenants, and the pool's total at the last sync (for D). */
  private ownTotal = 0;
  private lastPoolTotal: number | undefined = undefined;
  /** D: weighted service the pool dispatched between the last two syncs. */
  private lastInterval = 0;
  private held = false;
  private closed = false;
  private connected = true;
  /**
   * Syncs left after a rejoin during which nothing is lifted: the others rewrite their figures within a round or
   * two of ours, and until then their absence is not a departure (lifting against it would publish floors that
   * count their service twice once it is back).
   */
  private rejoinGrace = 0;

  constructor(
    exchange: FairnessExchange,
    priority: number,
    private readonly wake: () => void,
  ) {
    this.peers = exchange.join(priority, {
      changes: (all) => this.changes(all),
      peersChanged: () => this.peersChanged(),
    });
    this.peersChanged();
  }

  /** H: how far above the pool's minimum key a tenant may be dispatched. */
  holdSlack(): number {
    return Math.max(this.maxCharge, this.lastInterval);
  }

  /** The key of `fairnessId` as this replica sees it now (0 for an unknown tenant). */
  tenantKey(fairnessId: string): number {
    const rec = this.records.get(fairnessId);
    return rec !== undefined ? keyOf(rec) : keyOfPeer(this.peers.tenant(fairnessId));
  }

  activate(flow: Flow): void {
    let rec = this.records.get(flow.fairnessId);
    if (rec === undefined) {
      rec = new TenantRecord(flow.fairnessId);
      rec.peer = this.peers.tenant(flow.fairnessId);
      this.records.set(flow.fairnessId, rec);
    }
    rec.flow = flow;
    rec.backlogged = true;
    rec.orphan = false;
    this.lift(rec);
    flow.virtualService = keyOf(rec);
    this.heap.push(flow);
    this.dirty.set(rec.fairnessId, rec);
  }

  deactivate(flow: Flow): void {
    this.heap.remove(flow);
    const rec = this.records.get(flow.fairnessId);
    if (rec === undefined) return;
    rec.flow = undefined;
    rec.backlogged = false;
    this.dirty.set(rec.fairnessId, rec);
  }

  headChanged(): void {}

  pick(): Flow | undefined {
    const flow = this.heap.peek();
    this.held = false;
    if (flow === undefined) return undefined;
    const min = Math.min(flow.virtualService, this.peerOnlyMin);
    if (min > this.virtualTime) this.virtualTime = min;
    if (flow.virtualService > min + this.holdSlack()) {
      this.held = true;
      return undefined;
    }
    return flow;
  }

  holding(): boolean {
    return this.held;
  }

  contended(): boolean {
    return this.peers.backlogged().size > 0;
  }

  charge(flow: Flow, cost: number): void {
    const normalised = cost / flow.weight;
    if (normalised > this.maxCharge) this.maxCharge = normalised;
    this.addService(flow, normalised);
  }

  correct(flow: Flow, delta: number): void {
    this.addService(flow, delta / flow.weight);
  }

  flowCollected(flow: Flow): void {
    const rec = this.records.get(flow.fairnessId);
    if (rec === undefined || rec.flow !== undefined) return;
    if (this.peers.backlogged().has(rec.fairnessId)) rec.orphan = true;
    else this.drop(rec);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.peers.leave();
  }

  private addService(flow: Flow, normalised: number): void {
    const rec = this.records.get(flow.fairnessId);
    if (rec === undefined) return;
    if (this.connected) {
      rec.service += normalised;
      this.ownTotal += normalised;
      this.dirty.set(rec.fairnessId, rec);
    } else {
      rec.outageService += normalised;
    }
    if (rec.flow === flow) {
      flow.virtualService = keyOf(rec);
      this.heap.update(flow);
    } else if (this.peers.backlogged().has(rec.fairnessId)) {
      this.peerOnlyMin = Math.min(this.peerOnlyMin, keyOf(rec));
    }
  }

  /** Raises the record's own floor (while down: its outage floor) so that its key is at least V. */
  private lift(rec: TenantRecord): void {
    const key = keyOf(rec);
    if (key >= this.virtualTime || this.rejoinGrace > 0) return;
    const floor = this.virtualTime - rec.service - rec.outageService - (rec.peer?.service ?? 0);
    if (this.connected) {
      rec.floor = floor;
      this.dirty.set(rec.fairnessId, rec);
    } else {
      rec.outageFloor = floor;
    }
  }

  private drop(rec: TenantRecord): void {
    this.records.delete(rec.fairnessId);
    rec.deleted = true;
    this.dirty.set(rec.fairnessId, rec);
  }

  private *changes(all: boolean): Iterable<OwnTenantRecord> {
    if (all) {
      this.dirty.clear();
      yield* this.records.values();
      return;
    }
    const batch = [...this.dirty.values()];
    this.dirty.clear();
    yield* batch;
  }

  /** A sync landed (or the exchange went down or came back): refresh keys, the pool minimum, V, D and lifts. */
  private peersChanged(): void {
    if (this.closed) return;
    const connected = this.peers.connected();
    const rejoined = connected && !this.connected;
    this.connected = connected;
    if (rejoined) this.dropOutage();
    else if (this.rejoinGrace > 0) this.rejoinGrace--;
    let poolTotal = this.ownTotal;
    for (const rec of this.records.values()) {
      const peer = this.peers.tenant(rec.fairnessId);
      if (peer === rec.peer) continue;
      rec.peer = peer;
      const flow = rec.flow;
      if (flow !== undefined) {
        flow.virtualService = keyOf(rec);
        this.heap.update(flow);
      } else if (rec.orphan && !this.peers.backlogged().has(rec.fairnessId)) {
        this.drop(rec);
      }
    }
    let peerOnlyMin = Number.POSITIVE_INFINITY;
    for (const [id, peer] of this.peers.backlogged()) {
      const rec = this.records.get(id);
      if (rec?.flow !== undefined) continue;
      peerOnlyMin = Math.min(peerOnlyMin, rec !== undefined ? keyOf(rec) : keyOfPeer(peer));
    }
    this.peerOnlyMin = peerOnlyMin;
    poolTotal += this.peers.totalService();
    if (this.lastPoolTotal !== undefined) this.lastInterval = Math.max(0, poolTotal - this.lastPoolTotal);
    this.lastPoolTotal = poolTotal;
    const localMin = this.heap.peek()?.virtualService ?? Number.POSITIVE_INFINITY;
    const min = Math.min(localMin, peerOnlyMin);
    if (Number.isFinite(min) && min > this.virtualTime) this.virtualTime = min;
    // Keys only drop when another replica's figures vanish (it died, or forgot an idle tenant): re-lift.
    if (localMin < this.virtualTime) this.liftActive();
    this.wake();
  }

  /** Back from local-only: forget what was served meanwhile, and restart V from the pool's keys as they are. */
  private dropOutage(): void {
    for (const rec of this.records.values()) {
      if (rec.outageService === 0 && rec.outageFloor === 0) continue;
      rec.outageService = 0;
      rec.outageFloor = 0;
      if (rec.flow !== undefined) {
        rec.flow.virtualService = keyOf(rec);
        this.heap.update(rec.flow);
      }
    }
    this.virtualTime = this.heap.peek()?.virtualService ?? 0;
    this.rejoinGrace = REJOIN_GRACE_SYNCS;
  }

  private liftActive(): void {
    for (const rec of this.records.values()) {
      const flow = rec.flow;
      if (flow === undefined || keyOf(rec) >= this.virtualTime) continue;
      this.lift(rec);
      flow.virtualService = keyOf(rec);
      this.heap.update(flow);
    }
  }

}

function keyOf(rec: TenantRecord): number {
  const peer = rec.peer;
  return rec.service + rec.outageService + (peer?.service ?? 0) + Math.max(rec.floor, rec.outageFloor, peer?.floor ?? 0);
}

function keyOfPeer(peer: PeerTenantState | undefined): number {
  return peer === undefined ? 0 : peer.service + peer.floor;
}
