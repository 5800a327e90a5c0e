// Which endpoints of a multi-model pool may serve a request's target model: those listing it (base model or
// adapter), running or loading it as a LoRA adapter, or able to load it (they serve its base model and have LoRA
// enabled). Endpoints whose listing is unknown may serve anything, so a pool without listings routes as before.
import { type EndpointSnapshot, type ServedModelsView, listsModel } from '../datalayer/index.js';

export type ModelCandidates =
  /** `endpoints` may serve the model (all of the input when nothing is known). */
  | { readonly kind: 'served'; readonly endpoints: readonly EndpointSnapshot[] }
  /** Every endpoint has a listing and none serves the model or can load it: 404 `model-not-found`. */
  | { readonly kind: 'not-found' }
  /** Endpoints serve it but all of them are down while others answer: 503 `model-unavailable`. */
  | { readonly kind: 'down'; readonly serving: number };

/** True when the endpoint lists `model`, or its metrics show the adapter running or waiting to load. */
function serves(e: EndpointSnapshot, models: ServedModelsView, model: string): boolean | undefined {
  const listed = models.of(e.id);
  if (listed === undefined) return undefined;
  if (listsModel(listed, model)) return true;
  const m = e.metrics;
  return m !== undefined && (m.loraRunning.includes(model) || m.loraWaiting.includes(model));
}

/**
 * O(endpoints) per call, allocation-free while every endpoint may serve the model (single-model pools). An
 * endpoint counts as down while its metrics are stale; "down" is answered only when some other endpoint of the
 * pool is fresh, since a pool whose metrics are all late is flow control's to hold, not a missing model.
 */
export function modelCandidates(endpoints: readonly EndpointSnapshot[], model: string, models: ServedModelsView): ModelCandidates {
  let out: EndpointSnapshot[] | undefined;
  let adapterBase: string | null | undefined; // null: looked for, not an adapter anyone lists
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i] as EndpointSnapshot;
    let ok = serves(e, models, model) ?? true;
    if (!ok) {
      adapterBase ??= baseOfAdapter(endpoints, models, model);
      ok = adapterBase !== null && canLoad(e, models, adapterBase);
    }
    if (ok) {
      if (out !== undefined) out.push(e);
    } else {
      out ??= endpoints.slice(0, i);
    }
  }
  const served = out ?? endpoints;
  if (served.length === 0) return { kind: 'not-found' };
  if (served.every((e) => e.stale) && endpoints.some((e) => !e.stale)) return { kind: 'down', serving: served.length };
  return { kind: 'served', endpoints: served };
}

/** The base model some endpoint lists `adapter` under, or null when no listing names it as an adapter. */
function baseOfAdapter(endpoints: readonly EndpointSnapshot[], models: ServedModelsView, adapter: string): string | null {
  for (const e of endpoints) {
    const base = models.of(e.id)?.adapters.get(adapter);
    if (base !== undefined) return base;
  }
  return null;
}

/** Serves the adapter's base model and reports LoRA slots (vLLM's `max_lora`): the adapter can be loaded there. */
function canLoad(e: EndpointSnapshot, models: ServedModelsView, base: string): boolean {
  return (models.of(e.id)?.bases.has(base) ?? false) && (e.metrics?.maxLora ?? 0) > 0;
}
