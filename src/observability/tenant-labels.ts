// Bounded `fairness_id` label values: at most `max` tenants have their own series, the rest share OVERFLOW_LABEL,
// so a flood of tenant ids cannot grow the registry. Slots are sticky (a counter series never goes backwards) and
// are handed over at scrape time from tenants idle in the recent window to the busiest tenants without one.
import { OVERFLOW_LABEL } from './bounded-label.js';

export class TenantLabels {
  private readonly labelled = new Set<string>();

  constructor(private readonly max: number) {}

  /** The label value for a tenant now; a free slot goes to the first tenant that asks. O(1). */
  of(fairnessId: string): string {
    if (this.labelled.has(fairnessId)) return fairnessId;
    if (fairnessId === OVERFLOW_LABEL || this.labelled.size >= this.max) return OVERFLOW_LABEL;
    this.labelled.add(fairnessId);
    return fairnessId;
  }

  get size(): number {
    return this.labelled.size;
  }

  /**
   * Gives slots to the tenants with the most tokens in `recent` that have none, taking them from labelled tenants
   * with no tokens in `recent`. Tokens a promoted tenant was served before stay in the overflow series, so every
   * series stays monotonic and their sum stays exact. Returns the demoted tenants, whose series the caller
   * removes. O(t log t) for t tenants in `recent`.
   */
  rebalance(recent: ReadonlyMap<string, number>): string[] {
    const candidates = [...recent]
      .filter(([id, tokens]) => tokens > 0 && id !== OVERFLOW_LABEL && !this.labelled.has(id))
      .sort((a, b) => b[1] - a[1]);
    if (candidates.length === 0) return [];
    const idle = [...this.labelled].filter((id) => (recent.get(id) ?? 0) === 0);
    const demoted: string[] = [];
    for (const [id] of candidates) {
      if (this.labelled.size >= this.max) {
        const out = idle.pop();
        if (out === undefined) break;
        this.labelled.delete(out);
        demoted.push(out);
      }
      this.labelled.add(id);
    }
    return demoted;
  }
}
