// Model rewrite rules from both places, merged into the one ModelRewriter the pipeline asks: the pool's
// InferenceModelRewrite objects (Kubernetes) and the config file's `modelRewrites`. Precedence follows the API's own
// rule across the union: a rule naming the model exactly beats a catch-all wherever either comes from; between two
// rules of the same kind, an InferenceModelRewrite beats a config entry (the cluster is the source of truth, as for
// objectives), the older object beats the newer (creation time, then name), and an earlier config entry beats a
// later one; within one object or entry, the first rule wins.
import { type ModelRewriteConfig } from '../config/index.js';
import { type InferenceModelRewriteSpec, type ModelRewriter, type RewriteSet, rewriteSetFromSpec } from '../gateway/index.js';

/** The cluster's rewrites, oldest first; src/kubernetes's InferenceModelRewriteSource implements it. */
export interface ClusterRewrites {
  current(): readonly (InferenceModelRewriteSpec & { readonly name: string })[];
  subscribe(listener: () => void): () => void;
}

export class ModelRewriteRules {
  private config: readonly ModelRewriteConfig[];
  private readonly unsubscribe: (() => void) | undefined;

  constructor(
    private readonly rewriter: ModelRewriter,
    config: readonly ModelRewriteConfig[],
    private readonly cluster?: ClusterRewrites,
  ) {
    this.config = config;
    this.unsubscribe = cluster?.subscribe(() => this.apply());
    this.apply();
  }

  /** A reload's `modelRewrites`; the next request reads the merged rules. */
  setConfig(config: readonly ModelRewriteConfig[]): void {
    this.config = config;
    this.apply();
  }

  /** The merged sets in precedence order (cluster objects, then config entries); for tests and the log. */
  sets(): RewriteSet[] {
    const cluster = this.cluster?.current() ?? [];
    return [
      ...cluster.map((r, i) => rewriteSetFromSpec(r.name, r, i)),
      ...this.config.map((r, i) => rewriteSetFromSpec(r.name, r, cluster.length + i)),
    ];
  }

  close(): void {
    this.unsubscribe?.();
  }

  /** O(rules) on a change; the rewriter keeps each unchanged rule's split position. */
  private apply(): void {
    this.rewriter.replace(this.sets());
  }
}
