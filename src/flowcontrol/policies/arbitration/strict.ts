// strict (default): the highest non-empty band always goes first; lower bands wait while it has work (pass-through
// bands excepted: nothing holds them).
import { PASS_THROUGH_CEILING } from '../../band.js';
import { type ArbitrationPolicy, type ArbitratedBand } from './arbitration-policy.js';

export const strictArbitration: ArbitrationPolicy = {
  name: 'strict',
  pick<B extends ArbitratedBand>(bands: readonly B[], saturation: number): B | undefined {
    let blocked = false;
    for (const band of bands) {
      if (band.readyRequests === 0) continue;
      if (band.ceiling === PASS_THROUGH_CEILING || (!blocked && saturation < band.ceiling)) return band;
      blocked = true;
    }
    return undefined;
  },
  dispatched: () => {},
};
