// Usage-limit policies: the saturation ceiling of each band. A band dispatches only while pool saturation is
// below its ceiling, so lower ceilings make a band give way earlier as the pool fills.

export interface BandCeilingInput {
  readonly priority: number;
  /** Ceiling configured on the band itself, if any. */
  readonly configuredCeiling: number | undefined;
}

export interface UsageLimitPolicy {
  readonly name: string;
  /**
   * Ceilings for all live bands, given highest priority first; returns them in the same order.
   * Called only when the set of bands changes, never per dispatch.
   */
  ceilings(bandsHighestFirst: readonly BandCeilingInput[]): number[];
}
