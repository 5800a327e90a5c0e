// static: every band's ceiling is its configured value, 1.0 by default (the Go reference's behaviour).
import { type UsageLimitPolicy } from './usage-limit-policy.js';

export const DEFAULT_BAND_CEILING = 1.0;

export const staticUsageLimit: UsageLimitPolicy = {
  name: 'static',
  ceilings: (bands) => bands.map((b) => b.configuredCeiling ?? DEFAULT_BAND_CEILING),
};
