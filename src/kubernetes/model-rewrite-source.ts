// InferenceModelRewrite watch: the rewrite objects whose poolRef names our pool (as the Go EPP filters them), kept
// by name with their creation time, which orders them (the API: the oldest object wins a tie). Listeners get the
// whole ordered list after each change; turning it into rewrite rules is the server's business.
import { type Logger } from '../core/index.js';
import { PoolAttachedWatch, type PoolAttachedSourceOptions, attachedTo } from './pool-attached-watch.js';
import { type ModelRewriteObject, REWRITE_GROUP, REWRITE_VERSION, objectKey, parseInferenceModelRewrite } from './resources.js';

export type ModelRewriteSourceOptions = PoolAttachedSourceOptions;

const KIND = {
  group: REWRITE_GROUP,
  version: REWRITE_VERSION,
  plural: 'inferencemodelrewrites',
  kind: 'InferenceModelRewrite',
  fallback: 'model rewrites come from the config file only',
};

export class InferenceModelRewriteSource {
  private readonly logger: Logger;
  private readonly watch: PoolAttachedWatch;
  private readonly rewrites = new Map<string, ModelRewriteObject>();
  private readonly listeners = new Set<(rewrites: readonly ModelRewriteObject[]) => void>();
  private ordered: readonly ModelRewriteObject[] = [];

  constructor(private readonly o: ModelRewriteSourceOptions) {
    this.watch = new PoolAttachedWatch(o, KIND, { onChange: (obj) => this.changed(obj), onDelete: (obj) => this.deleted(obj) });
    this.logger = this.watch.logger;
  }

  /** Lists and watches; a missing CRD is tolerated (the config file's rewrites still apply), RBAC denials reject. */
  start(): Promise<void> {
    return this.watch.start();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.watch.stop();
  }

  /** Whether the CRD is served and watched. */
  get watching(): boolean {
    return this.watch.watching;
  }

  /** The pool's rewrites, oldest first (creation time, then name). */
  current(): readonly ModelRewriteObject[] {
    return this.ordered;
  }

  /** Calls `listener` after every change with the ordered list; returns the unsubscribe function. */
  subscribe(listener: (rewrites: readonly ModelRewriteObject[]) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private changed(obj: unknown): void {
    const parsed = parseInferenceModelRewrite(obj);
    if (parsed === undefined) return;
    if (!parsed.ok) {
      // Invalid for the API (the CRD's validation should have refused it): never half-applied.
      this.logger.warn({ rewrite: parsed.name, reason: parsed.reason }, 'InferenceModelRewrite ignored');
      if (this.rewrites.delete(parsed.name)) this.publish();
      return;
    }
    const rewrite = parsed.rewrite;
    if (!attachedTo(this.o.pool, rewrite)) {
      // It may have been ours before (poolRef edited away): forget it.
      if (this.rewrites.delete(rewrite.name)) this.publish();
      return;
    }
    const before = this.rewrites.get(rewrite.name);
    if (before !== undefined && JSON.stringify(before) === JSON.stringify(rewrite)) return;
    this.rewrites.set(rewrite.name, rewrite);
    this.logger.info({ rewrite: rewrite.name, rules: rewrite.rules.length }, 'InferenceModelRewrite applied');
    this.publish();
  }

  private deleted(obj: unknown): void {
    const key = objectKey(obj);
    if (key === undefined || !this.rewrites.delete(key.name)) return;
    this.logger.info({ rewrite: key.name }, 'InferenceModelRewrite deleted');
    this.publish();
  }

  /** O(n log n) in the pool's rewrites, on change only. */
  private publish(): void {
    this.ordered = [...this.rewrites.values()].sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const listener of [...this.listeners]) {
      try {
        listener(this.ordered);
      } catch (err) {
        this.logger.error({ err }, 'InferenceModelRewrite listener threw');
      }
    }
  }
}
