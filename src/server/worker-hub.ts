// Shared state between the workers of `fairway serve --workers N` without Redis: the primary hosts an in-memory
// hub (the Redis transport's semantics) and answers each worker's sync round over the cluster IPC channel.
// Rounds are small messages every sync interval, never on a request's path.
import { type Worker } from 'node:cluster';
import { systemClock } from '../core/index.js';
import { type BudgetClaim, type ExchangeTransport, MemoryHub, type PeerReply, type RoundReply, type RoundRequest } from '../sharedstate/index.js';

interface WireRequest {
  readonly origin: string;
  readonly ttlMs: number;
  readonly heartbeatMs: number;
  readonly full: boolean;
  readonly epoch: string;
  readonly set: [string, string][];
  readonly del: string[];
  readonly known: [string, string][];
  readonly lease?: { readonly name: string; readonly ttlMs: number; readonly want: boolean };
  readonly claims?: BudgetClaim[];
}

type WireReply =
  | { readonly kind: 'lost' }
  | {
      readonly kind: 'ok';
      readonly serverTimeMs: number;
      readonly peers: [string, string, [string, string][] | null, boolean][];
      readonly leaseHolder: string | null;
      readonly granted?: [string, number][];
    };

interface SyncMessage {
  readonly fairwaySync: number;
  readonly request?: WireRequest;
  readonly leave?: { readonly origin: string; readonly leaseName?: string };
}

interface SyncAnswer {
  readonly fairwaySyncAnswer: number;
  readonly reply?: WireReply;
  readonly error?: string;
}

function isSyncMessage(m: unknown): m is SyncMessage {
  return typeof m === 'object' && m !== null && typeof (m as { fairwaySync?: unknown }).fairwaySync === 'number';
}

function isSyncAnswer(m: unknown): m is SyncAnswer {
  return typeof m === 'object' && m !== null && typeof (m as { fairwaySyncAnswer?: unknown }).fairwaySyncAnswer === 'number';
}

/** Primary side: answers the sync rounds of `worker` from `hub`. */
export function serveWorker(hub: MemoryHub, worker: Worker): void {
  worker.on('message', (m: unknown) => {
    if (!isSyncMessage(m)) return;
    let answer: SyncAnswer;
    try {
      if (m.leave !== undefined) {
        void hub.transport().leave(m.leave.origin, m.leave.leaseName);
        answer = { fairwaySyncAnswer: m.fairwaySync };
      } else if (m.request !== undefined) {
        answer = { fairwaySyncAnswer: m.fairwaySync, reply: toWire(hub.round(fromWire(m.request))) };
      } else return;
    } catch (err) {
      answer = { fairwaySyncAnswer: m.fairwaySync, error: err instanceof Error ? err.message : String(err) };
    }
    if (worker.isConnected()) worker.send(answer);
  });
}

export function newWorkerHub(): MemoryHub {
  return new MemoryHub(systemClock);
}

/** Worker side: a transport whose rounds go to the primary's hub. */
export function ipcTransport(): ExchangeTransport {
  const pending = new Map<number, { resolve: (a: SyncAnswer) => void }>();
  let seq = 0;
  process.on('message', (m: unknown) => {
    if (!isSyncAnswer(m)) return;
    pending.get(m.fairwaySyncAnswer)?.resolve(m);
    pending.delete(m.fairwaySyncAnswer);
  });
  const ask = (msg: Omit<SyncMessage, 'fairwaySync'>): Promise<SyncAnswer> =>
    new Promise((resolve, reject) => {
      if (process.send === undefined || !process.connected) {
        reject(new Error('no IPC channel to the primary'));
        return;
      }
      const id = ++seq;
      pending.set(id, { resolve });
      process.send({ ...msg, fairwaySync: id }, undefined, undefined, (err: Error | null) => {
        if (err !== null) {
          pending.delete(id);
          reject(err);
        }
      });
    });
  return {
    round: async (request) => {
      const a = await ask({ request: toWireRequest(request) });
      if (a.reply === undefined) throw new Error(a.error ?? 'no reply from the primary');
      return fromWireReply(a.reply);
    },
    leave: async (origin, leaseName) => {
      await ask({ leave: { origin, leaseName } });
    },
  };
}

function toWireRequest(r: RoundRequest): WireRequest {
  return {
    origin: r.origin,
    ttlMs: r.ttlMs,
    heartbeatMs: r.heartbeatMs,
    full: r.full,
    epoch: r.epoch,
    set: [...r.set],
    del: [...r.del],
    known: [...r.known],
    lease: r.lease,
    ...(r.claims !== undefined ? { claims: [...r.claims] } : {}),
  };
}

function fromWire(r: WireRequest): RoundRequest {
  return {
    origin: r.origin,
    ttlMs: r.ttlMs,
    heartbeatMs: r.heartbeatMs,
    full: r.full,
    epoch: r.epoch,
    set: new Map(r.set),
    del: r.del,
    known: new Map(r.known),
    lease: r.lease,
    ...(r.claims !== undefined ? { claims: r.claims } : {}),
  };
}

function toWire(r: RoundReply): WireReply {
  if (r.kind === 'lost') return r;
  return {
    kind: 'ok',
    serverTimeMs: r.serverTimeMs,
    peers: [...r.peers].map(([origin, p]) => [origin, p.version, p.fields === undefined ? null : [...p.fields], p.stale]),
    leaseHolder: r.leaseHolder ?? null,
    ...(r.granted !== undefined ? { granted: [...r.granted] } : {}),
  };
}

function fromWireReply(r: WireReply): RoundReply {
  if (r.kind === 'lost') return r;
  const peers = new Map<string, PeerReply>();
  for (const [origin, version, fields, stale] of r.peers) {
    peers.set(origin, { version, fields: fields === null ? undefined : new Map(fields), stale });
  }
  return {
    kind: 'ok',
    serverTimeMs: r.serverTimeMs,
    peers,
    leaseHolder: r.leaseHolder ?? undefined,
    ...(r.granted !== undefined ? { granted: new Map(r.granted) } : {}),
  };
}
