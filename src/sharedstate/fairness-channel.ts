// Implements flow control's FairnessExchange over the shared-state exchange: publishes this replica's own
// weighted-fair figures per band and tenant, and sums the other replicas' (service summed, floors maxed,
// "queued here" ORed) into the views weighted-fair reads between syncs. A stale peer (silent past its heartbeat
// window, maybe crashed) keeps its service in the sums but none of its tenants count as queued: tenants it can
// no longer serve must not be held against the pool minimum.
import {
  type FairnessBandPeers,
  type FairnessBandSource,
  type FairnessExchange,
  type PeerTenantState,
} from '../flowcontrol/index.js';
import { type ChannelWrites, type ExchangeChannel, type PeerView } from './exchange.js';

/** Channel id of the weighted-fair figures. */
export const FAIRNESS_CHANNEL = 'w';

interface Figures {
  readonly service: number;
  readonly floor: number;
  readonly backlogged: boolean;
}

interface BandView {
  source: FairnessBandSource | undefined;
  /** Peers' figures per tenant, aggregated; objects are replaced only when a figure changes. */
  tenants: Map<string, PeerTenantState>;
  backlogged: Map<string, PeerTenantState>;
  total: number;
  /** Tenants this replica has published in the band (deleted when the band leaves). */
  readonly published: Set<string>;
}

const NO_BACKLOG: ReadonlyMap<string, PeerTenantState> = new Map();

/** Field name: `<priority>|<fairness id>`; value: `<service>,<floor>,<1 if queued>`. */
function fieldOf(priority: number, fairnessId: string): string {
  return `${priority}|${fairnessId}`;
}

function parseField(field: string): { priority: number; fairnessId: string } | undefined {
  const cut = field.indexOf('|');
  if (cut <= 0) return undefined;
  const priority = Number(field.slice(0, cut));
  return Number.isInteger(priority) ? { priority, fairnessId: field.slice(cut + 1) } : undefined;
}

function parseValue(value: string): Figures | undefined {
  const [s, f, b] = value.split(',');
  const service = Number(s);
  const floor = Number(f);
  if (!Number.isFinite(service) || !Number.isFinite(floor)) return undefined;
  return { service, floor, backlogged: b === '1' };
}

/**
 * Complexity per sync: O(fields of the peers that changed) to parse, O(tenants reported by any peer x peers) to
 * aggregate; reads by weighted-fair are O(1) Map lookups.
 */
export class FairnessChannel implements ExchangeChannel, FairnessExchange {
  readonly id = FAIRNESS_CHANNEL;
  private readonly bands = new Map<number, BandView>();
  /** Parsed fields per peer: priority -> tenant -> figures. */
  private readonly parsed = new Map<string, Map<number, Map<string, Figures>>>();
  private readonly pendingDeletes: string[] = [];
  private connected = false;
  private stale: ReadonlySet<string> = new Set();

  join(priority: number, source: FairnessBandSource): FairnessBandPeers {
    const band = this.band(priority);
    band.source = source;
    return {
      tenant: (id) => band.tenants.get(id),
      backlogged: () => (this.connected ? band.backlogged : NO_BACKLOG),
      totalService: () => band.total,
      connected: () => this.connected,
      leave: () => {
        if (band.source !== source) return;
        band.source = undefined;
        for (const tenant of band.published) this.pendingDeletes.push(fieldOf(priority, tenant));
        band.published.clear();
      },
    };
  }

  collect(all: boolean): ChannelWrites {
    const set = new Map<string, string>();
    const del = all ? [] : this.pendingDeletes.slice();
    this.pendingDeletes.length = 0;
    for (const [priority, band] of this.bands) {
      if (band.source === undefined) continue;
      if (all) band.published.clear();
      for (const rec of band.source.changes(all)) {
        const field = fieldOf(priority, rec.fairnessId);
        if (rec.deleted) {
          band.published.delete(rec.fairnessId);
          del.push(field);
        } else {
          band.published.add(rec.fairnessId);
          set.set(field, `${rec.service},${rec.floor},${rec.backlogged ? 1 : 0}`);
        }
      }
    }
    return { set, del };
  }

  apply(view: PeerView): void {
    this.connected = view.connected;
    this.stale = view.stale;
    for (const origin of view.changed) {
      const fields = view.peers.get(origin);
      if (fields === undefined) this.parsed.delete(origin);
      else this.parsed.set(origin, parsePeer(fields));
    }
    if (view.changed.size > 0) this.aggregate();
    for (const band of this.bands.values()) band.source?.peersChanged();
  }

  private band(priority: number): BandView {
    let band = this.bands.get(priority);
    if (band === undefined) {
      band = { source: undefined, tenants: new Map(), backlogged: new Map(), total: 0, published: new Set() };
      this.bands.set(priority, band);
    }
    return band;
  }

  private aggregate(): void {
    const sums = new Map<number, Map<string, { service: number; floor: number; backlogged: boolean }>>();
    for (const [origin, byBand] of this.parsed) {
      const live = !this.stale.has(origin);
      for (const [priority, tenants] of byBand) {
        let acc = sums.get(priority);
        if (acc === undefined) {
          acc = new Map();
          sums.set(priority, acc);
        }
        for (const [tenant, f] of tenants) {
          const a = acc.get(tenant);
          const backlogged = live && f.backlogged;
          if (a === undefined) acc.set(tenant, { service: f.service, floor: f.floor, backlogged });
          else {
            a.service += f.service;
            a.floor = Math.max(a.floor, f.floor);
            a.backlogged ||= backlogged;
          }
        }
      }
    }
    for (const [priority, band] of this.bands) {
      if (!sums.has(priority) && band.source === undefined && band.published.size === 0) this.bands.delete(priority);
    }
    for (const [priority, acc] of sums) {
      const band = this.band(priority);
      const tenants = new Map<string, PeerTenantState>();
      const backlogged = new Map<string, PeerTenantState>();
      let total = 0;
      for (const [tenant, a] of acc) {
        const old = band.tenants.get(tenant);
        const state =
          old !== undefined && old.service === a.service && old.floor === a.floor && old.backlogged === a.backlogged ? old : Object.freeze(a);
        tenants.set(tenant, state);
        if (state.backlogged) backlogged.set(tenant, state);
        total += state.service;
      }
      band.tenants = tenants;
      band.backlogged = backlogged;
      band.total = total;
    }
    for (const [priority, band] of this.bands) {
      if (sums.has(priority)) continue;
      band.tenants = new Map();
      band.backlogged = new Map();
      band.total = 0;
    }
  }
}

function parsePeer(fields: ReadonlyMap<string, string>): Map<number, Map<string, Figures>> {
  const out = new Map<number, Map<string, Figures>>();
  for (const [field, value] of fields) {
    const key = parseField(field);
    const figures = parseValue(value);
    if (key === undefined || figures === undefined) continue;
    let band = out.get(key.priority);
    if (band === undefined) {
      band = new Map();
      out.set(key.priority, band);
    }
    band.set(key.fairnessId, figures);
  }
  return out;
}
