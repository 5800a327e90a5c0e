// Bounded `fairness_id` label values: at most `max` tenants have their own series, the rest share OVERFLOW_LABEL,
// so a flood of tenant ids cannot grow the registry. Slots are sticky (a counter series never goes backwards) and
// are handed over at scrape time from tenants idle in the recent window to the busiest tenants without one.
import { OVERFLOW_LABEL } from './bounded-label.js';

export class TenantLabels {
  /** Labelled tenants and their label value (the name, or what `display` makes of it). */
  private readonly labelled = new Map<string, string>();

  constructor(
    private readonly max: number,
    /** How a tenant's name is shown (a hash, to hide names). @default the name itself */
    private readonly display: (fairnessId: string) => string = (id) => id,
  ) {}

  /** The label value for a tenant now; a free slot goes to the first tenant that asks. O(1). */
  of(fairnessId: string): string {
    const label = this.labelled.get(fairnessId);
    if (label !== undefined) return label;
    if (fairnessId === OVERFLOW_LABEL || this.labelled.size >= this.max) return OVERFLOW_LABEL;
    return this.label(fairnessId);
  }

  private label(fairnessId: string): string {
    const label = this.display(fairnessId);
    this.labelled.set(fairnessId, label);
    return label;
  }

  get size(): number {
    return this.labelled.size;
  }

  /**
   * Gives slots to the tenants with the most tokens in `recent` that have none, taking them from labelled tenants
   * with no tokens in `recent`. Tokens a promoted tenant was served before stay in the overflow series, so every
   * series stays monotonic and their sum stays exact. Returns the label values of the demoted tenants, whose
   * series the caller removes. O(t log t) for t tenants in `recent`.
   */
  rebalance(recent: ReadonlyMap<string, number>): string[] {
    const candidates = [...recent]
      .filter(([id, tokens]) => tokens > 0 && id !== OVERFLOW_LABEL && !this.labelled.has(id))
      .sort((a, b) => b[1] - a[1]);
    if (candidates.length === 0) return [];
    const idle = [...this.labelled.keys()].filter((id) => (recent.get(id) ?? 0) === 0);
    const demoted: string[] = [];
    for (const [id] of candidates) {
      if (this.labelled.size >= this.max) {
        const out = idle.pop();
        if (out === undefined) break;
        demoted.push(this.labelled.get(out) ?? out);
        this.labelled.delete(out);
      }
      this.label(id);
    }
    return demoted;
  }
}
