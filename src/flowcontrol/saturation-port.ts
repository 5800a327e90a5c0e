// The saturation port: flow control asks it whether the pool can take more work. src/saturation implements it.

export interface SaturationSource {
  /**
   * Pool saturation now: 0 idle, >= 1.0 saturated. Called before every single dispatch, so it must be cheap
   * (cache it and recompute only when inputs change) and must already reflect work dispatched an instant ago
   * (the open loop), or a burst would all pass through the same apparent headroom.
   */
  saturation(): number;
  /**
   * As `saturation()`, but counting each endpoint's prefill backlog (prompt tokens sent and not started) against
   * the servers' step budget: >= 1.0 when no endpoint could start one more prompt without sharing its first step
   * with queued prefill. Flow control holds a tenant above its share of its band while it is at the band's ceiling
   * (pacing the heavy tenant's prompts, so the others' first tokens do not wait behind them). Absent: no pacing.
   */
  pacedSaturation?(): number;
  /**
   * Registers a listener called when saturation may have dropped (new metrics, work finished), so the
   * controller can dispatch at once instead of waiting for its fallback timer. Returns the unsubscribe function.
   */
  onChange(listener: () => void): () => void;
}
