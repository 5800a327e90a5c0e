// Caps the distinct values one label may take: the first `max` values seen keep their own series, later ones
// share OVERFLOW_LABEL. For labels taken from client input (model names, objectives) whose legitimate set is small.

/** The shared label value of everything past the cap; underscores keep it from colliding with a real name. */
export const OVERFLOW_LABEL = '__other__';

export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  /** O(1). */
  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return OVERFLOW_LABEL;
    this.seen.add(value);
    return value;
  }
}
