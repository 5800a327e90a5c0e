// Engine metric mappings: which Prometheus families mean "waiting", "running", "KV usage", LoRA state and
// cache geometry for vLLM, SGLang and TensorRT-LLM, and the extraction of EndpointMetrics from a parsed page.
import { type EndpointMetrics } from './endpoint.js';
import { type PromSample } from './prometheus-text.js';
import { type ScrapeFailureReason } from './scrape-failure.js';

export type EngineName = 'vllm' | 'sglang' | 'trtllm';

export const ENGINE_NAMES: readonly EngineName[] = ['vllm', 'sglang', 'trtllm'];

/** An info-style family whose labels carry cache geometry. */
export interface CacheConfigMapping {
  readonly family: string;
  /** Label holding tokens per KV block (vLLM `block_size`, SGLang `page_size`). */
  readonly blockSizeLabel: string;
  /** Label holding the number of blocks (vLLM `num_gpu_blocks`, SGLang `num_pages`). */
  readonly numBlocksLabel: string;
}

/**
 * Family names per meaning. Each required meaning lists candidates and the first one present wins, because
 * engines rename metrics between releases (vLLM `gpu_cache_usage_perc` became `kv_cache_usage_perc`).
 */
export interface EngineMetricNames {
  readonly waitingQueue: readonly string[];
  readonly runningRequests: readonly string[];
  /** Must report a fraction in [0, 1]. */
  readonly kvCacheUsage: readonly string[];
  /** vLLM-style `lora_requests_info`; the series with the largest value (a timestamp) is current. */
  readonly loraInfo?: string;
  readonly cacheConfig?: CacheConfigMapping;
}

export const VLLM_METRICS: EngineMetricNames = Object.freeze({
  waitingQueue: ['vllm:num_requests_waiting'],
  runningRequests: ['vllm:num_requests_running'],
  kvCacheUsage: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
  loraInfo: 'vllm:lora_requests_info',
  cacheConfig: { family: 'vllm:cache_config_info', blockSizeLabel: 'block_size', numBlocksLabel: 'num_gpu_blocks' },
});

export const SGLANG_METRICS: EngineMetricNames = Object.freeze({
  waitingQueue: ['sglang:num_queue_reqs'],
  runningRequests: ['sglang:num_running_reqs'],
  kvCacheUsage: ['sglang:token_usage'],
  cacheConfig: { family: 'sglang:cache_config_info', blockSizeLabel: 'page_size', numBlocksLabel: 'num_pages' },
});

export const TRTLLM_METRICS: EngineMetricNames = Object.freeze({
  waitingQueue: ['trtllm_num_requests_waiting'],
  runningRequests: ['trtllm_num_requests_running'],
  kvCacheUsage: ['trtllm_kv_cache_utilization'],
});

export const DEFAULT_ENGINE_METRICS: Readonly<Record<EngineName, EngineMetricNames>> = Object.freeze({
  vllm: VLLM_METRICS,
  sglang: SGLANG_METRICS,
  trtllm: TRTLLM_METRICS,
});

/**
 * Engines whose /metrics is prometheus_client's exposition app over its default registry (vLLM with one API server),
 * which honours `name[]` query parameters by leaving every other family out (the ASGI app vLLM mounts, since
 * prometheus/client_python#1125, September 2025; older ones ignore the parameters and send the whole page, which
 * reads the same). Not SGLang: it always serves a multiprocess registry, whose filtered page is empty, so every
 * endpoint would pay a second request on its first scrape and again each time the whole-page spell ends.
 * TensorRT-LLM's server is not known to filter. Those are asked for the whole page unless told otherwise.
 */
export const NAME_FILTER_ENGINES: ReadonlySet<EngineName> = new Set<EngineName>(['vllm']);

/** Every family name a mapping may read: the parser's keep-list. */
export function familiesOf(names: EngineMetricNames): ReadonlySet<string> {
  const set = new Set<string>([...names.waitingQueue, ...names.runningRequests, ...names.kvCacheUsage]);
  if (names.loraInfo !== undefined) set.add(names.loraInfo);
  if (names.cacheConfig !== undefined) set.add(names.cacheConfig.family);
  return set;
}

/** What extraction reads of a page: its samples by sample name (a parsed page, or one with remembered families). */
export interface PageSamples {
  readonly samples: { get(name: string): readonly PromSample[] | undefined };
}

export type ExtractResult =
  | { readonly ok: true; readonly metrics: EndpointMetrics }
  | { readonly ok: false; readonly reason: ScrapeFailureReason; readonly detail: string };

/**
 * Builds normalised metrics from a parsed page. Missing or non-finite required values fail the whole scrape
 * (the endpoint goes stale) rather than defaulting to 0, which would make a broken server look idle.
 * Several series of one family (data-parallel engines label each rank) are summed for counts; for KV usage
 * the fullest rank counts, since one full rank already forces preemption there.
 *
 * `previous` (the same endpoint's last metrics) is returned itself when nothing changed: an endpoint whose
 * figures did not move costs no new frozen object (freezing is a runtime call), and readers may compare by identity.
 */
export function extractEndpointMetrics(parsed: PageSamples, names: EngineMetricNames, previous?: EndpointMetrics): ExtractResult {
  const read = readEndpointMetrics(parsed, names, previous);
  return isUnusable(read) ? read : { ok: true, metrics: read };
}

/** Why a page gave no metrics (see extractEndpointMetrics). */
export type Unusable = Extract<ExtractResult, { ok: false }>;

/** Whether readEndpointMetrics gave a reason rather than metrics. */
export function isUnusable(read: EndpointMetrics | Unusable): read is Unusable {
  return (read as Partial<Unusable>).ok === false;
}

/**
 * extractEndpointMetrics without its result wrapper (the metrics themselves, or why not): the scraper's form,
 * one object less per scrape.
 */
export function readEndpointMetrics(parsed: PageSamples, names: EngineMetricNames, previous?: EndpointMetrics): EndpointMetrics | Unusable {
  const waiting = readFamily(parsed, names.waitingQueue, 'sum');
  if (typeof waiting !== 'number') return waiting;
  const running = readFamily(parsed, names.runningRequests, 'sum');
  if (typeof running !== 'number') return running;
  const kv = readFamily(parsed, names.kvCacheUsage, 'max');
  if (typeof kv !== 'number') return kv;
  const lora = names.loraInfo === undefined ? undefined : readLora(parsed.samples.get(names.loraInfo));
  const geometry = names.cacheConfig === undefined ? undefined : readCacheConfig(parsed, names.cacheConfig);
  const kvCacheUsage = Math.min(1, kv);
  const loraRunning = lora?.running ?? EMPTY;
  const loraWaiting = lora?.waiting ?? EMPTY;
  const maxLora = lora?.maxLora ?? 0;
  if (
    previous !== undefined &&
    previous.waitingQueue === waiting &&
    previous.runningRequests === running &&
    previous.kvCacheUsage === kvCacheUsage &&
    sameList(previous.loraRunning, loraRunning) &&
    sameList(previous.loraWaiting, loraWaiting) &&
    previous.maxLora === maxLora &&
    previous.kvBlockSize === geometry?.blockSize &&
    previous.kvNumBlocks === geometry?.numBlocks
  ) {
    return previous;
  }
  // Two literal shapes rather than a conditional spread: cheaper to build, and one hidden class each.
  const metrics: EndpointMetrics =
    geometry === undefined
      ? { waitingQueue: waiting, runningRequests: running, kvCacheUsage, loraRunning, loraWaiting, maxLora }
      : { waitingQueue: waiting, runningRequests: running, kvCacheUsage, loraRunning, loraWaiting, maxLora, kvBlockSize: geometry.blockSize, kvNumBlocks: geometry.numBlocks };
  return Object.freeze(metrics);
}

const EMPTY: readonly string[] = Object.freeze([]);

/** Same adapters in the same order (usually the same list: an unchanged LoRA line keeps its sample, see readLora). */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The combined value of the first present candidate, or why it is unusable. */
function readFamily(parsed: PageSamples, candidates: readonly string[], combine: 'sum' | 'max'): number | Unusable {
  for (const name of candidates) {
    const series = parsed.samples.get(name);
    if (series === undefined || series.length === 0) continue;
    let total = combine === 'sum' ? 0 : Number.NEGATIVE_INFINITY;
    for (const s of series) {
      if (!Number.isFinite(s.value) || s.value < 0) {
        return { ok: false, reason: 'invalid-value', detail: `${name} has invalid value ${String(s.value)}` };
      }
      total = combine === 'sum' ? total + s.value : Math.max(total, s.value);
    }
    return total;
  }
  return { ok: false, reason: 'missing-metric', detail: `missing metric family ${candidates.join(' | ')}` };
}

interface LoraState {
  readonly running: readonly string[];
  readonly waiting: readonly string[];
  readonly maxLora: number;
}

/**
 * Per labels object: the LoRA state they hold. The page reader hands back the same sample for a line unchanged
 * since the last scrape, and the same labels for a line whose value alone changed, so a LoRA info line is split
 * once, not every 50 ms, and its lists stay the same objects (which the worker's batches compare by identity
 * first). Weak: gone with the labels.
 */
const loraByLabels = new WeakMap<Readonly<Record<string, string>>, LoraState>();

function readLora(series: readonly PromSample[] | undefined): LoraState | undefined {
  let best: PromSample | undefined;
  for (const s of series ?? []) {
    if (Number.isFinite(s.value) && (best === undefined || s.value > best.value)) best = s;
  }
  if (best === undefined) return undefined;
  const known = loraByLabels.get(best.labels);
  if (known !== undefined) return known;
  const maxLora = Number(best.labels['max_lora']);
  const state: LoraState = {
    running: splitList(best.labels['running_lora_adapters']),
    waiting: splitList(best.labels['waiting_lora_adapters']),
    maxLora: Number.isInteger(maxLora) && maxLora > 0 ? maxLora : 0,
  };
  loraByLabels.set(best.labels, state);
  return state;
}

function splitList(raw: string | undefined): readonly string[] {
  if (raw === undefined || raw === '') return EMPTY;
  return Object.freeze(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

interface CacheGeometry {
  readonly blockSize: number;
  readonly numBlocks: number;
}

/** Per cache-config labels and mapping: the geometry, read once (see loraByLabels). */
const geometryByLabels = new WeakMap<Readonly<Record<string, string>>, { readonly mapping: CacheConfigMapping; readonly geometry: CacheGeometry | undefined }>();

function readCacheConfig(parsed: PageSamples, mapping: CacheConfigMapping): CacheGeometry | undefined {
  const first = parsed.samples.get(mapping.family)?.[0];
  if (first === undefined) return undefined;
  const known = geometryByLabels.get(first.labels);
  if (known !== undefined && known.mapping === mapping) return known.geometry;
  const blockSize = Number(first.labels[mapping.blockSizeLabel]);
  const numBlocks = Number(first.labels[mapping.numBlocksLabel]);
  const geometry =
    !Number.isInteger(blockSize) || blockSize <= 0 || !Number.isInteger(numBlocks) || numBlocks <= 0 ? undefined : { blockSize, numBlocks };
  geometryByLabels.set(first.labels, { mapping, geometry });
  return geometry;
}
