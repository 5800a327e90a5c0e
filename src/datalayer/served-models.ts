// What each endpoint serves: the base models and LoRA adapters its OpenAI-compatible `/v1/models` lists, as the
// scheduler and the request pipeline read them. The poller (model-poller.ts) writes it; nothing here does I/O.

/** The models one endpoint answered with in its last good listing. */
export interface ServedModels {
  /** Base models (vLLM: entries without a `parent`; `--served-model-name` aliases are listed one by one). */
  readonly bases: ReadonlySet<string>;
  /** LoRA adapters by name, each with the base model it applies to (vLLM's `parent`). */
  readonly adapters: ReadonlyMap<string, string>;
  /** Clock time (ms) of the listing. */
  readonly listedAt: number;
}

/**
 * Per endpoint id, what it serves; `undefined` while unknown (not listed yet, or the server has no usable listing),
 * which readers take as "may serve anything", so a pool without listings routes exactly as before.
 */
export interface ServedModelsView {
  of(endpointId: string): ServedModels | undefined;
}

/** No listings at all: every endpoint may serve every model. */
export const UNKNOWN_MODELS: ServedModelsView = { of: () => undefined };

const MAX_LISTED_MODELS = 10_000;

/**
 * Reads an OpenAI model list (`{"object": "list", "data": [{"id", "parent"?, "root"?}]}`). An entry whose
 * `parent` names another model is an adapter of it (vLLM's LoRA modules); every other entry is a base model.
 * Returns undefined for anything that is not such a list, so a server answering something else is "unknown".
 * O(entries).
 */
export function parseModelList(text: string, listedAt: number): ServedModels | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const data = (json as Record<string, unknown>).data;
  if (!Array.isArray(data) || data.length > MAX_LISTED_MODELS) return undefined;
  const bases = new Set<string>();
  const adapters = new Map<string, string>();
  for (const entry of data as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return undefined;
    const { id, parent } = entry as Record<string, unknown>;
    if (typeof id !== 'string' || id === '') return undefined;
    if (typeof parent === 'string' && parent !== '' && parent !== id) adapters.set(id, parent);
    else bases.add(id);
  }
  return { bases, adapters, listedAt };
}

/** True when the listing names `model`, as a base model or as an adapter. */
export function listsModel(models: ServedModels, model: string): boolean {
  return models.bases.has(model) || models.adapters.has(model);
}
