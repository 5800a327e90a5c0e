// strict (default): the highest non-empty band always goes first; lower bands wait while it has work.
import { type ArbitrationPolicy, type ArbitratedBand } from './arbitration-policy.js';

export const strictArbitration: ArbitrationPolicy = {
  name: 'strict',
  pick<B extends ArbitratedBand>(bands: readonly B[], saturation: number): B | undefined {
    for (const band of bands) {
      if (band.queuedRequests === 0) continue;
      return saturation < band.ceiling ? band : undefined;
    }
    return undefined;
  },
  dispatched: () => {},
};
