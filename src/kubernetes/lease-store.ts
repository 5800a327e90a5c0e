// The Lease that leader election takes turns on: a small port (get / create / update with optimistic
// concurrency) and its coordination.k8s.io/v1 adapter over the client's CoordinationV1Api.
import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { FairwayError } from '../core/index.js';
import { classifyApiError } from './api-errors.js';
import { type KubeClients } from './kube-clients.js';

/** The fields of `spec` leader election reads and writes. Times are RFC 3339 with microseconds (MicroTime). */
export interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: string | undefined;
  readonly renewTime: string | undefined;
  readonly leaseTransitions: number;
}

export interface StoredLease {
  readonly record: LeaseRecord;
  /** Optimistic-concurrency token: an update naming an older one fails with a conflict. */
  readonly resourceVersion: string;
}

export interface LeaseStore {
  /** The lease, or undefined when it does not exist. */
  get(): Promise<StoredLease | undefined>;
  /** Creates it; throws LeaseConflictError when it already exists. */
  create(record: LeaseRecord): Promise<StoredLease>;
  /** Replaces it if still at `resourceVersion`; throws LeaseConflictError otherwise. */
  update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
}

/** Someone else wrote the lease first (HTTP 409). */
export class LeaseConflictError extends FairwayError {
  constructor(message: string) {
    super('ERR_LEASE_CONFLICT', message);
  }
}

function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return v;
  if (typeof v === 'string') {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

function fromLease(lease: V1Lease): StoredLease {
  const spec = lease.spec ?? {};
  return {
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: toDate(spec.acquireTime)?.toISOString(),
      renewTime: toDate(spec.renewTime)?.toISOString(),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
    resourceVersion: lease.metadata?.resourceVersion ?? '',
  };
}

/** MicroTime serialises with six fractional digits, the format the API server parses. */
function microTime(iso: string | undefined): V1MicroTime | undefined {
  const d = toDate(iso);
  return d === undefined ? undefined : new V1MicroTime(d.getTime());
}

function toSpec(record: LeaseRecord): V1Lease['spec'] {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: microTime(record.acquireTime),
    renewTime: microTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

function rethrow(err: unknown): never {
  const c = classifyApiError(err);
  if (c.kind === 'conflict') throw new LeaseConflictError(c.message);
  throw err;
}

/** `coordination.k8s.io/v1` Lease `name` in `namespace`: get, create, update (PUT with resourceVersion). */
export class KubernetesLeaseStore implements LeaseStore {
  constructor(
    private readonly clients: KubeClients,
    readonly namespace: string,
    readonly name: string,
  ) {}

  async get(): Promise<StoredLease | undefined> {
    try {
      return fromLease(await this.clients.coordination.readNamespacedLease({ name: this.name, namespace: this.namespace }));
    } catch (err) {
      if (classifyApiError(err).kind === 'not-found') return undefined;
      throw err;
    }
  }

  async create(record: LeaseRecord): Promise<StoredLease> {
    try {
      const body: V1Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.name, namespace: this.namespace }, spec: toSpec(record) };
      return fromLease(await this.clients.coordination.createNamespacedLease({ namespace: this.namespace, body }));
    } catch (err) {
      rethrow(err);
    }
  }

  async update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease> {
    try {
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.name, namespace: this.namespace, resourceVersion },
        spec: toSpec(record),
      };
      return fromLease(await this.clients.coordination.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body }));
    } catch (err) {
      rethrow(err);
    }
  }
}
