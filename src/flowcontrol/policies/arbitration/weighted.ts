// weighted: under contention, bands share dispatches in proportion to their weights (stride scheduling), and no
// band's oldest request waits longer than a bound while its gate is open. Below the activation threshold the
// pool has room for everyone, so it behaves as strict. What llm-d users asked for: important traffic first, but
// sheddable traffic is not starved for ever.
import { InvalidArgumentError } from '../../../core/index.js';
import { type ArbitrationPolicy, type ArbitratedBand, eligibleBands } from './arbitration-policy.js';

export const DEFAULT_WEIGHTED_ACTIVATION = 0.8;
export const DEFAULT_WEIGHTED_MAX_WAIT_MS = 5_000;

export interface WeightedArbitrationOptions {
  /** Saturation at and above which sharing replaces strict order. @default 0.8 */
  readonly activationThreshold?: number;
  /** A band whose oldest request waited this long (ms) is served next, if its gate is open. @default 5000 */
  readonly maxWaitMs?: number;
}

export function weightedArbitration(options: WeightedArbitrationOptions = {}): ArbitrationPolicy {
  const threshold = options.activationThreshold ?? DEFAULT_WEIGHTED_ACTIVATION;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_WEIGHTED_MAX_WAIT_MS;
  if (!(threshold >= 0)) throw new InvalidArgumentError('arbitration.activationThreshold', threshold, '>= 0');
  if (!(maxWaitMs > 0)) throw new InvalidArgumentError('arbitration.maxWaitMs', maxWaitMs, '> 0');
  let minPass = 0;
  return {
    name: 'weighted',
    pick<B extends ArbitratedBand>(bands: readonly B[], saturation: number, now: number): B | undefined {
      let chosen: B | undefined;
      let overdue: B | undefined;
      let overdueSince = Infinity;
      for (const band of eligibleBands(bands, saturation)) {
        if (saturation < threshold) return band;
        // A band that rejoins the contest starts level with the others: waiting earns no stored credit.
        if (band.pass < minPass) band.pass = minPass;
        const oldest = band.oldestEnqueuedAt();
        if (oldest !== undefined && now - oldest >= maxWaitMs && oldest < overdueSince) {
          overdue = band;
          overdueSince = oldest;
        }
        if (chosen === undefined || band.pass < chosen.pass) chosen = band;
      }
      const pick = overdue ?? chosen;
      if (pick !== undefined) minPass = pick.pass;
      return pick;
    },
    dispatched(band) {
      band.pass += 1 / band.settings.weight;
    },
  };
}
