// One list+watch of one resource through @kubernetes/client-node's informer (ListWatch), made robust: bookmarks
// on and a server-side watch timeout (as client-go's reflector asks), restarts with jittered exponential backoff
// after errors, a watchdog for watches that go silent, 410 Gone relists (the informer's own, which diffs the new
// list against its cache: nothing dropped, nothing doubled), and an "API server reachable" signal.
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import { type Clock, type Logger, type Random, type TimerHandle, mathRandom, noopLogger, systemClock } from '../core/index.js';
import { type ApiReachability } from './api-reachability.js';
import { type ClassifiedError, KubernetesPermissionError, KubernetesResourceMissingError, classifyApiError } from './api-errors.js';

export const DEFAULT_BACKOFF_INITIAL_MS = 800;
export const DEFAULT_BACKOFF_MAX_MS = 30_000;
/** client-go's reflector asks for a watch timeout chosen in [5, 10) minutes, so watches are renewed regularly. */
export const DEFAULT_WATCH_TIMEOUT_SECONDS = 300;
/** A watch that delivered nothing (not even a bookmark) for this long past its timeout is restarted. */
export const DEFAULT_WATCHDOG_GRACE_MS = 60_000;

/** Watch tuning shared by every watch (back-off, timeouts); tests shorten them. */
export type WatchTuning = Pick<ResourceWatchOptions, 'backoffInitialMs' | 'backoffMaxMs' | 'watchTimeoutSeconds' | 'watchdogGraceMs'>;

/** What the watches of one pool share. */
export interface WatchContext extends WatchTuning {
  readonly kubeConfig: KubeConfig;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Shared by the pool's watches, so that the API server going away is logged once, not once per watch. */
  readonly reachability?: ApiReachability;
}

/** The options every watch of one pool has in common. */
export function sharedWatchOptions(c: WatchContext, logger: Logger): WatchContext & { readonly logger: Logger } {
  return {
    kubeConfig: c.kubeConfig,
    clock: c.clock,
    random: c.random,
    reachability: c.reachability,
    logger,
    backoffInitialMs: c.backoffInitialMs,
    backoffMaxMs: c.backoffMaxMs,
    watchTimeoutSeconds: c.watchTimeoutSeconds,
    watchdogGraceMs: c.watchdogGraceMs,
  };
}

/** Names the resource in logs and in RBAC errors. */
export interface WatchedResource {
  readonly resource: string;
  readonly group: string;
  readonly namespace: string;
}

export interface ResourceWatchOptions {
  readonly kubeConfig: KubeConfig;
  /** API path of the collection, e.g. `/api/v1/namespaces/ns/pods`. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<KubernetesObject>>;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  readonly what: WatchedResource;
  readonly onAdd?: (obj: unknown) => void;
  readonly onUpdate?: (obj: unknown) => void;
  readonly onDelete?: (obj: unknown) => void;
  /** Called with false when the API server stops answering, with true when it answers again. */
  readonly onReachable?: (reachable: boolean) => void;
  /** Logs the API server's reachability for all the pool's watches together; without it this watch logs its own. */
  readonly reachability?: ApiReachability;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  /** @default 800 */
  readonly backoffInitialMs?: number;
  /** @default 30000 */
  readonly backoffMaxMs?: number;
  /** Server-side watch timeout; the real one is this times [1, 2). @default 300 */
  readonly watchTimeoutSeconds?: number;
  /** @default 60000 */
  readonly watchdogGraceMs?: number;
}

/** Adds what ListWatch cannot ask for itself: bookmarks, and a server-side timeout. */
class RenewingWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly timeoutSeconds: () => number,
  ) {
    super(config);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: this.timeoutSeconds() }, callback, done);
  }
}

type Phase = 'new' | 'syncing' | 'running' | 'backoff' | 'stopped';

export class ResourceWatch {
  private readonly informer: ListWatch<KubernetesObject>;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly timeoutSeconds: number;
  private readonly watchdogMs: number;
  private phase: Phase = 'new';
  private failures = 0;
  private retryTimer: TimerHandle | undefined;
  private watchdog: TimerHandle | undefined;
  private lastActivity = 0;
  private reachable = true;
  private synced = false;
  /** A list succeeded at least once (so a 403 before sync was the watch's, not the list's). */
  private listedOnce = false;
  private firstSync: { resolve: () => void; reject: (err: Error) => void } | undefined;
  /** Errors raised by a start attempt: the informer reports them by callback, not by rejecting. */
  private attemptError: unknown;

  constructor(private readonly o: ResourceWatchOptions) {
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? mathRandom;
    this.logger = (o.logger ?? noopLogger).child({ resource: o.what.resource, namespace: o.what.namespace });
    this.initialMs = o.backoffInitialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
    this.maxMs = o.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
    this.timeoutSeconds = o.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS;
    this.watchdogMs = this.timeoutSeconds * 2_000 + (o.watchdogGraceMs ?? DEFAULT_WATCHDOG_GRACE_MS);
    const watch = new RenewingWatch(o.kubeConfig, () => Math.floor(this.timeoutSeconds * (1 + this.random.next())));
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const result = await o.list();
      this.listedOnce = true;
      this.activity();
      return result;
    };
    this.informer = new ListWatch(o.path, watch, list, false, o.labelSelector, o.fieldSelector);
    this.informer.on('add', (obj) => this.deliver(o.onAdd, obj));
    this.informer.on('update', (obj) => this.deliver(o.onUpdate, obj));
    this.informer.on('delete', (obj) => this.deliver(o.onDelete, obj));
    this.informer.on('error', (err: unknown) => this.onError(err));
  }

  /**
   * Lists, then watches. Resolves once the first list is in (the cache is synced). Rejects at once on 403 (RBAC)
   * and 404 (the resource type is not served: CRD missing); any other failure is retried with backoff.
   */
  start(): Promise<void> {
    if (this.phase !== 'new') return Promise.resolve();
    const synced = new Promise<void>((resolve, reject) => (this.firstSync = { resolve, reject }));
    void this.attempt();
    return synced;
  }

  /** The informer's cache: every object of the last list plus the watch events since. */
  objects(): readonly unknown[] {
    return this.informer.list();
  }

  get isSynced(): boolean {
    return this.synced;
  }

  get isReachable(): boolean {
    return this.reachable;
  }

  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    if (this.watchdog !== undefined) this.clock.clearTimeout(this.watchdog);
    this.retryTimer = undefined;
    this.watchdog = undefined;
    this.firstSync?.reject(new Error(`watch of ${this.o.what.resource} stopped before its first list`));
    this.firstSync = undefined;
    await this.informer.stop();
  }

  private async attempt(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'syncing';
    this.attemptError = undefined;
    try {
      await this.informer.start();
    } catch (err) {
      this.attemptError = err;
    }
    // stop() may have run while the informer was starting.
    if ((this.phase as Phase) === 'stopped') {
      await this.informer.stop();
      return;
    }
    if (this.attemptError !== undefined) {
      this.fail(this.attemptError);
      return;
    }
    this.phase = 'running';
    this.failures = 0;
    this.activity();
    if (!this.synced) {
      this.synced = true;
      this.firstSync?.resolve();
      this.firstSync = undefined;
    }
  }

  private onError(err: unknown): void {
    // Our own stop() aborts the request; the informer reports that abort as an error, asynchronously.
    if (this.phase === 'stopped' || (err instanceof Error && err.name === 'AbortError')) return;
    if (this.phase === 'syncing') {
      this.attemptError ??= err; // the attempt in progress reports it when informer.start() returns
      return;
    }
    this.fail(err);
  }

  private fail(err: unknown): void {
    if (this.phase === 'backoff' || this.phase === 'stopped') return;
    const c = classifyApiError(err);
    if (!this.synced && (c.kind === 'forbidden' || c.kind === 'not-found')) {
      this.phase = 'stopped';
      void this.informer.stop();
      this.firstSync?.reject(this.fatal(c));
      this.firstSync = undefined;
      return;
    }
    if (c.kind === 'unreachable') this.setReachable(false, c);
    else this.logger.warn({ status: c.status, error: c.message }, 'watch failed; restarting');
    this.phase = 'backoff';
    const delay = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30)) * (1 + this.random.next());
    this.failures++;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, delay);
  }

  private fatal(c: ClassifiedError): Error {
    const { resource, group, namespace } = this.o.what;
    const qualified = group === '' ? resource : `${resource}.${group}`;
    if (c.kind === 'forbidden') {
      return new KubernetesPermissionError(this.listedOnce ? 'watch' : 'list', qualified, namespace, c.message);
    }
    return new KubernetesResourceMissingError(`the API server does not serve ${qualified} in namespace "${namespace}"`, c.message);
  }

  private deliver(handler: ((obj: unknown) => void) | undefined, obj: unknown): void {
    this.activity();
    if (handler === undefined) return;
    try {
      handler(obj);
    } catch (err) {
      this.logger.error({ err }, 'watch event handler threw; event ignored');
    }
  }

  /** Something arrived: the server is there, and the watchdog starts over. */
  private activity(): void {
    this.lastActivity = this.clock.now();
    this.setReachable(true);
    this.watchdog ??= this.clock.setTimeout(() => this.checkSilence(), this.watchdogMs);
  }

  private checkSilence(): void {
    this.watchdog = undefined;
    if (this.phase !== 'running') return;
    const silentFor = this.clock.now() - this.lastActivity;
    if (silentFor < this.watchdogMs) {
      this.watchdog = this.clock.setTimeout(() => this.checkSilence(), this.watchdogMs - silentFor);
      return;
    }
    this.logger.warn({ silentForMs: Math.round(silentFor) }, 'watch silent past its timeout; restarting it');
    this.phase = 'backoff';
    void this.informer.stop().then(() => this.attempt());
  }

  private setReachable(reachable: boolean, cause?: ClassifiedError): void {
    if (this.reachable === reachable) return;
    this.reachable = reachable;
    if (this.o.reachability !== undefined) this.o.reachability.report(this, this.o.what.resource, reachable, cause?.message);
    else if (reachable) this.logger.info({}, 'Kubernetes API server reachable again; watch resumed');
    else this.logger.warn({ error: cause?.message }, 'Kubernetes API server unreachable; serving the last known state');
    this.o.onReachable?.(reachable);
  }
}
