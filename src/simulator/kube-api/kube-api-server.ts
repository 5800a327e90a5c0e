// An in-process Kubernetes API server for tests and benchmarks (never used by production code), speaking the
// wire protocol @kubernetes/client-node uses: lists with a resourceVersion, chunked watch streams of one JSON event per line (ADDED / MODIFIED / DELETED /
// BOOKMARK, and ERROR with a 410 Status once the asked-for version is compacted away), label and field
// selectors, get / create / replace with optimistic concurrency (409 on a stale resourceVersion), Status bodies
// for 401 / 403 / 404 / 409, RBAC rules (403 for what they do not grant) and a record of every call. It can go
// away and come back on the same port, and compact its history to force 410s.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface ResourceType {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
}

export const PODS: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };
export const LEASES: ResourceType = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' };
export const POOLS_V1: ResourceType = { group: 'inference.networking.k8s.io', version: 'v1', plural: 'inferencepools', kind: 'InferencePool' };
export const POOLS_V1ALPHA2: ResourceType = { group: 'inference.networking.x-k8s.io', version: 'v1alpha2', plural: 'inferencepools', kind: 'InferencePool' };
export const OBJECTIVES: ResourceType = { group: 'inference.networking.x-k8s.io', version: 'v1alpha2', plural: 'inferenceobjectives', kind: 'InferenceObjective' };
export const MODEL_REWRITES: ResourceType = { group: 'inference.networking.x-k8s.io', version: 'v1alpha2', plural: 'inferencemodelrewrites', kind: 'InferenceModelRewrite' };
const ALL_TYPES = [PODS, LEASES, POOLS_V1, POOLS_V1ALPHA2, OBJECTIVES, MODEL_REWRITES];

/** One RBAC PolicyRule (as in a Role). */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

export interface ApiCall {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace: string;
  readonly name?: string;
  readonly status: number;
}

export type KubeObject = Record<string, unknown> & { metadata: Record<string, unknown> };

interface StoredEvent {
  readonly rv: number;
  readonly collection: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
}

interface Watcher {
  readonly collection: string;
  readonly res: ServerResponse;
  readonly matches: (o: KubeObject) => boolean;
}

export interface FakeKubeApiOptions {
  /** Bearer token the server requires; undefined: any. */
  readonly token?: string;
  /** RBAC rules granted to the caller; undefined: everything allowed. */
  readonly rules?: readonly PolicyRule[];
  /** Events kept for watches that resume from a resourceVersion; older ones answer 410. @default 10000 */
  readonly historyLimit?: number;
  /** Cap on a watch's duration whatever timeoutSeconds asks (tests shorten it). @default none */
  readonly maxWatchMs?: number;
  /** BOOKMARK cadence for watches that allow them. @default 1000 */
  readonly bookmarkIntervalMs?: number;
}

function collectionKey(t: ResourceType, namespace: string): string {
  return `${t.group}/${t.version}/${namespace}/${t.plural}`;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function parseLabelSelector(s: string | null): (labels: Record<string, string>) => boolean {
  if (s === null || s === '') return () => true;
  const terms = s.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const checks = terms.map((term) => {
    const ne = term.split('!=');
    if (ne.length === 2) return (l: Record<string, string>) => l[ne[0] as string] !== ne[1];
    const eq = term.split(/==?/);
    if (eq.length === 2) return (l: Record<string, string>) => l[eq[0] as string] === eq[1];
    const key = term.startsWith('!') ? term.slice(1) : term;
    return term.startsWith('!') ? (l: Record<string, string>) => !(key in l) : (l: Record<string, string>) => key in l;
  });
  return (labels) => checks.every((c) => c(labels));
}

function parseFieldSelector(s: string | null): (o: KubeObject) => boolean {
  if (s === null || s === '') return () => true;
  const checks = s.split(',').map((term) => {
    const [field, value] = term.split(/==?/) as [string, string | undefined];
    if (field === 'metadata.name') return (o: KubeObject) => o.metadata.name === value;
    if (field === 'metadata.namespace') return (o: KubeObject) => o.metadata.namespace === value;
    throw new Error(`field selector ${field} is not supported`);
  });
  return (o) => checks.every((c) => c(o));
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeKubeApi {
  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: StoredEvent[] = [];
  /** Watches starting at or below this revision get 410. */
  private compactedRevision = 0;
  private revision = 100;
  private readonly watchers = new Set<Watcher>();
  private uid = 0;
  readonly calls: ApiCall[] = [];
  rules: readonly PolicyRule[] | undefined;
  /** Adds latency to every answer (ms); tests of slow API servers. */
  latencyMs = 0;
  /** Resource types (plural.group) the server does not serve at all, as a cluster without the CRD: 404. */
  readonly unserved = new Set<string>();
  /** While true, open watches receive nothing (a watch cache falling behind); see expireWatches(). */
  holdWatchEvents = false;

  constructor(private readonly options: FakeKubeApiOptions = {}) {
    this.rules = options.rules;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** A KubeConfig pointing at this server (plain HTTP, which the client allows only with skipTLSVerify). */
  kubeConfig(token = this.options.token ?? 'test-token'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fairway', token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fairway', namespace: 'default' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** Listens (again) on the same port it had, or a free one the first time. */
  async start(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer((req, res) => {
      if (this.latencyMs > 0) setTimeout(() => this.handle(req, res), this.latencyMs);
      else this.handle(req, res);
    });
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Goes away: every connection (watches included) is cut, new ones are refused until start(). */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Forgets the event history: a watch resuming from any earlier resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedRevision = this.revision;
    this.history = [];
  }

  /** Ends every open watch as the real server does at its timeout (the client re-watches from its version). */
  endWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /**
   * What a real server does when a watcher fell too far behind: an ERROR event carrying a 410 Status, then the
   * end of the stream. The history is compacted too, so the client must relist. Releases held events.
   */
  expireWatches(): void {
    this.compact();
    this.holdWatchEvents = false;
    for (const w of this.watchers) {
      writeEvent(w.res, 'ERROR', status(410, 'Expired', `too old resource version (${this.compactedRevision})`));
      w.res.end();
    }
    this.watchers.clear();
  }

  get resourceVersion(): number {
    return this.revision;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  // --- the store, for tests ---

  /** Creates or replaces an object (ADDED or MODIFIED); returns the stored copy. */
  apply(type: ResourceType, namespace: string, object: Record<string, unknown>): KubeObject {
    const meta = { ...((object.metadata as Record<string, unknown> | undefined) ?? {}) };
    const name = String(meta.name);
    const coll = this.collection(type, namespace);
    const existing = coll.get(name);
    return this.write(type, namespace, { ...object, metadata: { ...meta, namespace } }, existing === undefined ? 'ADDED' : 'MODIFIED', existing);
  }

  remove(type: ResourceType, namespace: string, name: string): boolean {
    const coll = this.collection(type, namespace);
    const existing = coll.get(name);
    if (existing === undefined) return false;
    coll.delete(name);
    const rv = ++this.revision;
    const object = clone({ ...existing, metadata: { ...existing.metadata, resourceVersion: String(rv) } });
    this.emit({ rv, collection: collectionKey(type, namespace), type: 'DELETED', object });
    return true;
  }

  get(type: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const o = this.collection(type, namespace).get(name);
    return o === undefined ? undefined : clone(o);
  }

  list(type: ResourceType, namespace: string): KubeObject[] {
    return [...this.collection(type, namespace).values()].map(clone);
  }

  private collection(type: ResourceType, namespace: string): Map<string, KubeObject> {
    const key = collectionKey(type, namespace);
    let coll = this.objects.get(key);
    if (coll === undefined) this.objects.set(key, (coll = new Map<string, KubeObject>()));
    return coll;
  }

  private write(type: ResourceType, namespace: string, object: KubeObject, kind: 'ADDED' | 'MODIFIED', existing: KubeObject | undefined): KubeObject {
    const rv = ++this.revision;
    const stored: KubeObject = {
      apiVersion: type.group === '' ? type.version : `${type.group}/${type.version}`,
      kind: type.kind,
      ...clone(object),
      metadata: {
        ...clone(object.metadata),
        namespace,
        uid: existing?.metadata.uid ?? `uid-${++this.uid}`,
        creationTimestamp: existing?.metadata.creationTimestamp ?? new Date().toISOString(),
        resourceVersion: String(rv),
      },
    };
    this.collection(type, namespace).set(String(stored.metadata.name), stored);
    this.emit({ rv, collection: collectionKey(type, namespace), type: kind, object: clone(stored) });
    return clone(stored);
  }

  private emit(event: StoredEvent): void {
    this.history.push(event);
    const limit = this.options.historyLimit ?? 10_000;
    if (this.history.length > limit) {
      const dropped = this.history.splice(0, this.history.length - limit);
      this.compactedRevision = dropped[dropped.length - 1]?.rv ?? this.compactedRevision;
    }
    if (this.holdWatchEvents) return;
    for (const w of this.watchers) {
      if (w.collection === event.collection && w.matches(event.object)) writeEvent(w.res, event.type, event.object);
    }
  }

  // --- HTTP ---

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = this.route(url.pathname);
    if (route === undefined || this.unserved.has(`${route.type.plural}.${route.type.group}`)) {
      this.answer(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
      return;
    }
    const { type, namespace, name } = route;
    const watch = url.searchParams.get('watch') === 'true';
    const verb =
      req.method === 'GET' ? (name !== undefined ? 'get' : watch ? 'watch' : 'list')
      : req.method === 'POST' ? 'create'
      : req.method === 'PUT' ? 'update'
      : req.method === 'PATCH' ? 'patch'
      : req.method === 'DELETE' ? 'delete'
      : 'unknown';
    const record = (code: number): void => {
      this.calls.push({ verb, group: type.group, resource: type.plural, namespace, ...(name !== undefined ? { name } : {}), status: code });
    };
    const token = this.options.token;
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      record(401);
      this.answer(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (!this.allowed(verb, type)) {
      record(403);
      const where = type.group === '' ? '""' : `"${type.group}"`;
      this.answer(
        res,
        403,
        status(403, 'Forbidden', `${type.plural}${type.group === '' ? '' : `.${type.group}`} is forbidden: User "system:serviceaccount:${namespace}:fairway" cannot ${verb} resource "${type.plural}" in API group ${where} in the namespace "${namespace}"`),
      );
      return;
    }
    if (verb === 'watch') {
      record(200);
      this.serveWatch(url, type, namespace, res);
      return;
    }
    void readJson(req).then((body) => {
      const [code, payload] = this.serveRest(verb, type, namespace, name, url, body);
      record(code);
      this.answer(res, code, payload);
    });
  }

  private route(path: string): { type: ResourceType; namespace: string; name: string | undefined } | undefined {
    const core = /^\/api\/v1\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    const named = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (core !== null) {
      const type = ALL_TYPES.find((t) => t.group === '' && t.plural === core[2]);
      return type && { type, namespace: core[1] as string, name: core[3] };
    }
    if (named !== null) {
      const type = ALL_TYPES.find((t) => t.group === named[1] && t.version === named[2] && t.plural === named[4]);
      return type && { type, namespace: named[3] as string, name: named[5] };
    }
    return undefined;
  }

  private allowed(verb: string, type: ResourceType): boolean {
    if (this.rules === undefined) return true;
    return this.rules.some(
      (r) =>
        (r.apiGroups.includes(type.group) || r.apiGroups.includes('*')) &&
        (r.resources.includes(type.plural) || r.resources.includes('*')) &&
        (r.verbs.includes(verb) || r.verbs.includes('*')),
    );
  }

  private serveRest(verb: string, type: ResourceType, namespace: string, name: string | undefined, url: URL, body: unknown): [number, unknown] {
    const coll = this.collection(type, namespace);
    const notFound = (n: string): [number, unknown] => [404, status(404, 'NotFound', `${type.plural}${type.group === '' ? '' : `.${type.group}`} "${n}" not found`)];
    switch (verb) {
      case 'list': {
        const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
        const fields = parseFieldSelector(url.searchParams.get('fieldSelector'));
        const items = [...coll.values()].filter((o) => labels(labelsOf(o)) && fields(o)).map(clone);
        return [200, { kind: `${type.kind}List`, apiVersion: type.group === '' ? type.version : `${type.group}/${type.version}`, metadata: { resourceVersion: String(this.revision) }, items }];
      }
      case 'get': {
        const o = coll.get(name as string);
        return o === undefined ? notFound(name as string) : [200, clone(o)];
      }
      case 'create': {
        const o = body as KubeObject | undefined;
        const n = typeof o?.metadata?.name === 'string' ? o.metadata.name : undefined;
        if (o === undefined || n === undefined) return [400, status(400, 'BadRequest', 'metadata.name is required')];
        if (coll.has(n)) return [409, status(409, 'AlreadyExists', `${type.plural}${type.group === '' ? '' : `.${type.group}`} "${n}" already exists`)];
        const { resourceVersion: _ignored, ...meta } = o.metadata;
        return [201, this.write(type, namespace, { ...o, metadata: meta }, 'ADDED', undefined)];
      }
      case 'update': {
        const o = body as KubeObject | undefined;
        const existing = coll.get(name as string);
        if (existing === undefined) return notFound(name as string);
        if (o === undefined) return [400, status(400, 'BadRequest', 'a body is required')];
        const rv = o.metadata.resourceVersion;
        if (rv !== undefined && rv !== existing.metadata.resourceVersion) {
          return [409, status(409, 'Conflict', `Operation cannot be fulfilled on ${type.plural}${type.group === '' ? '' : `.${type.group}`} "${name}": the object has been modified; please apply your changes to the latest version and try again`)];
        }
        return [200, this.write(type, namespace, o, 'MODIFIED', existing)];
      }
      case 'delete':
        return this.remove(type, namespace, name as string) ? [200, status(200, '', 'deleted')] : notFound(name as string);
      default:
        return [405, status(405, 'MethodNotAllowed', verb)];
    }
  }

  private serveWatch(url: URL, type: ResourceType, namespace: string, res: ServerResponse): void {
    const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
    const fields = parseFieldSelector(url.searchParams.get('fieldSelector'));
    const matches = (o: KubeObject): boolean => labels(labelsOf(o)) && fields(o);
    const key = collectionKey(type, namespace);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders(); // as the real server: the client's watch() returns once headers arrive
    const rvParam = url.searchParams.get('resourceVersion');
    if (rvParam === null || rvParam === '' || rvParam === '0') {
      // No version: the current state as synthetic ADDED events, then what follows.
      for (const o of this.collection(type, namespace).values()) if (matches(o)) writeEvent(res, 'ADDED', o);
    } else {
      const from = Number(rvParam);
      if (!Number.isFinite(from) || from < this.compactedRevision) {
        writeEvent(res, 'ERROR', status(410, 'Expired', `too old resource version: ${rvParam} (${this.compactedRevision + 1})`));
        res.end();
        return;
      }
      for (const e of this.history) if (e.rv > from && e.collection === key && matches(e.object)) writeEvent(res, e.type, e.object);
    }
    const watcher: Watcher = { collection: key, res, matches };
    this.watchers.add(watcher);
    const timers: NodeJS.Timeout[] = [];
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      const kind = type.kind;
      const apiVersion = type.group === '' ? type.version : `${type.group}/${type.version}`;
      timers.push(setInterval(() => writeEvent(res, 'BOOKMARK', { kind, apiVersion, metadata: { resourceVersion: String(this.revision) } }), this.options.bookmarkIntervalMs ?? 1_000));
    }
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? 'NaN');
    const limit = Math.min(Number.isFinite(timeoutSeconds) ? timeoutSeconds * 1000 : Infinity, this.options.maxWatchMs ?? Infinity);
    if (Number.isFinite(limit)) timers.push(setTimeout(() => res.end(), limit));
    const cleanup = (): void => {
      for (const t of timers) clearTimeout(t);
      this.watchers.delete(watcher);
    };
    res.on('close', cleanup);
    res.on('finish', cleanup);
  }

  private answer(res: ServerResponse, code: number, payload: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  }
}

function labelsOf(o: KubeObject): Record<string, string> {
  return (o.metadata.labels as Record<string, string> | undefined) ?? {};
}

function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
