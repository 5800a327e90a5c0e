// Per-endpoint saturation port: read by the scheduler's "has headroom" filter and by observability,
// implemented by src/saturation. It lives here because both sides may import the data layer.

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
}

/** An endpoint has headroom when its saturation is below 1.0. */
export function hasHeadroom(view: EndpointSaturationView, endpointId: string): boolean {
  return view.endpointSaturation(endpointId) < 1;
}
