// Model-name rewrites with the semantics of the InferenceModelRewrite API: rules that match a model name exactly
// (or match everything), each splitting its traffic over weighted target models.
import { WeightedSplitter } from './weighted-splitter.js';

export interface RewriteTarget {
  /** The model name the request is forwarded as. */
  readonly model: string;
  /** Share of the rule's traffic; positive integer. */
  readonly weight: number;
}

export interface RewriteRule {
  /** Model names matched exactly (any of them); empty matches every request. */
  readonly models: readonly string[];
  readonly targets: readonly RewriteTarget[];
}

/** One InferenceModelRewrite object (or one entry of `modelRewrites` in the config file). */
export interface RewriteSet {
  readonly name: string;
  /** Precedence between sets when rules tie: lower first (the CRD's creation time, or the list position). */
  readonly order: number;
  readonly rules: readonly RewriteRule[];
}

export interface RewriteDecision {
  readonly target: string;
  /** The set whose rule decided. */
  readonly rewrite: string;
}

/** The InferenceModelRewrite spec as the CRD and the config file write it. */
export interface InferenceModelRewriteSpec {
  readonly rules: readonly {
    readonly matches?: readonly { readonly model?: { readonly type?: string; readonly value: string } }[];
    readonly targets?: readonly { readonly modelRewrite: string; readonly weight?: number }[];
  }[];
}

/** Converts a spec; targets without weights share equally (weights are all-or-none, checked by the schema). */
export function rewriteSetFromSpec(name: string, spec: InferenceModelRewriteSpec, order: number): RewriteSet {
  return {
    name,
    order,
    rules: spec.rules.map((r) => ({
      models: (r.matches ?? []).flatMap((m) => (m.model !== undefined ? [m.model.value] : [])),
      targets: (r.targets ?? []).map((t) => ({ model: t.modelRewrite, weight: t.weight ?? 1 })),
    })),
  };
}


interface IndexedRule {
  readonly set: RewriteSet;
  readonly ruleIndex: number;
  readonly key: string;
  readonly splitter: WeightedSplitter<string> | undefined;
}

function ruleKey(set: RewriteSet, ruleIndex: number, rule: RewriteRule): string {
  return JSON.stringify([set.name, ruleIndex, rule.targets.map((t) => [t.model, t.weight])]);
}

function precedes(a: IndexedRule, b: IndexedRule): number {
  return a.set.order - b.set.order || (a.set.name < b.set.name ? -1 : a.set.name > b.set.name ? 1 : 0) || a.ruleIndex - b.ruleIndex;
}

/**
 * Resolves the target model of a request. Precedence, as the API states it: a rule naming the model exactly
 * beats a rule matching everything; between rules of equal kind, the older set (lower `order`) wins, then the
 * first rule of a set. `replace` swaps the rules (a config reload or a watch event) and keeps the split position
 * of every rule whose targets did not change, so a reload does not restart a canary's sequence.
 * `resolve` is O(targets of the chosen rule) after an O(1) lookup.
 */
export class ModelRewriter {
  private exact = new Map<string, IndexedRule>();
  private generic: IndexedRule | undefined;
  private byKey = new Map<string, IndexedRule>();

  constructor(sets: readonly RewriteSet[] = []) {
    this.replace(sets);
  }

  /** True when no rule is configured (the pipeline then skips the lookup entirely). */
  get empty(): boolean {
    return this.exact.size === 0 && this.generic === undefined;
  }

  replace(sets: readonly RewriteSet[]): void {
    const byKey = new Map<string, IndexedRule>();
    const exact = new Map<string, IndexedRule>();
    let generic: IndexedRule | undefined;
    for (const set of sets) {
      set.rules.forEach((rule, ruleIndex) => {
        const key = ruleKey(set, ruleIndex, rule);
        const kept = this.byKey.get(key);
        const indexed: IndexedRule = kept ?? {
          set,
          ruleIndex,
          key,
          splitter:
            rule.targets.length === 0
              ? undefined
              : new WeightedSplitter(
                  rule.targets.map((t) => t.model),
                  rule.targets.map((t) => t.weight),
                ),
        };
        const current: IndexedRule = kept === undefined ? indexed : { ...kept, set };
        byKey.set(key, current);
        if (rule.models.length === 0) {
          if (generic === undefined || precedes(current, generic) < 0) generic = current;
          return;
        }
        for (const model of rule.models) {
          const prev = exact.get(model);
          if (prev === undefined || precedes(current, prev) < 0) exact.set(model, current);
        }
      });
    }
    this.byKey = byKey;
    this.exact = exact;
    this.generic = generic;
  }

  /** The rewrite for a request that asked for `model`, or undefined when no rule applies. */
  resolve(model: string): RewriteDecision | undefined {
    const rule = this.exact.get(model) ?? this.generic;
    // A rule without targets matches but rewrites nothing (the API allows it; the request keeps its model).
    if (rule?.splitter === undefined) return undefined;
    return { target: rule.splitter.next(), rewrite: rule.set.name };
  }
}
