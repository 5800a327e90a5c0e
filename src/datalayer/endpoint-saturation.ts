// Per-endpoint saturation port: read by the scheduler's "has headroom" filter and by observability,
// implemented by src/saturation. It lives here because both sides may import the data layer.
import { type EndpointSnapshot } from './endpoint.js';

export interface EndpointSaturationView {
  /**
   * Saturation of one endpoint as of now, including work dispatched an instant ago where the detector counts
   * it: 0 idle, >= 1.0 no headroom. Unknown ids, stale or missing metrics give >= 1.0 (fail closed). O(1)
   * while inputs are unchanged.
   */
  endpointSaturation(endpointId: string): number;
  /**
   * As `endpointSaturation`, counting the endpoint's prefill backlog too (the hybrid detector's paced score);
   * absent when the detector does not pace.
   */
  pacedEndpointSaturation?(endpointId: string): number;
  /**
   * Writes into `out`, at each endpoint's index, exactly what `endpointSaturation` (with `paced`,
   * `pacedEndpointSaturation`) answers for it, from one evaluation: a headroom filter over n candidates reads the
   * detector once instead of n times (at 1,000 endpoints the n separate reads, each checking the detector's inputs
   * and the clock, were about half of a pick). O(endpoints). Optional: readers fall back to one call per endpoint.
   */
  endpointSaturations?(endpoints: readonly EndpointSnapshot[], out: Float64Array, paced?: boolean): void;
}

/** An endpoint has headroom when its saturation is below 1.0. */
export function hasHeadroom(view: EndpointSaturationView, endpointId: string): boolean {
  return view.endpointSaturation(endpointId) < 1;
}
