// Translates a Go EPP / llm-d-router EndpointPickerConfig into a Fairway configuration document (not yet
// validated: the caller merges command-line overrides and validates once). Pure. Every plug-in with a Fairway
// equivalent maps to it with its parameters; a type or reference Fairway lacks is refused with the nearest
// equivalent; a plug-in that changes nothing here is accepted with a notice, to be logged once.
import { ConfigError, describe } from '../../core/index.js';
import {
  type Obj,
  type PluginSpec,
  asList,
  asObject,
  asString,
  checkHeader,
  checkKeys,
  join,
  optionalBoolean,
  optionalNumber,
  optionalString,
  readPluginSpecs,
} from './document.js';
import { ConfigSchema } from '../schema.js';
import { PLUGIN_CATALOG, type PluginMapping } from './plugin-catalog.js';
import {
  type DetectorSettings,
  type TranslationSink,
  type UsageLimitSettings,
  translateDetector,
  translateFilter,
  translatePicker,
  translateProducer,
  translateScorer,
  translateUsageLimit,
  utilizationOptions,
} from './translate-plugins.js';
import { parseGoDuration, parseQuantity } from './units.js';

export interface EppTranslation {
  /** A Fairway configuration document: validate it (after any overrides) with validateConfig. */
  readonly config: Record<string, unknown>;
  /** What was accepted but differs or does nothing in Fairway: log each once at start-up. */
  readonly notices: readonly string[];
  /**
   * Fairway's own top-level sections written beside the EndpointPickerConfig's (`server`, `tenants`, `sharedState`,
   * ...): merge them over `config`, as a Fairway file's would apply (their paths in errors are the file's own).
   */
  readonly fairwaySections: Readonly<Record<string, unknown>>;
}

const TOP_KEYS = [
  'apiVersion',
  'kind',
  'featureGates',
  'plugins',
  'schedulingProfiles',
  'dataLayer',
  'data',
  'flowControl',
  'requestHandler',
  'saturationDetector',
  'parser',
];
/**
 * Fairway's own sections that may sit beside an EndpointPickerConfig's in one file (a Helm chart's defaults, or
 * settings the EPP format has no words for: TLS, tenants' weights, shared state). `flowControl` there is the EPP's.
 */
const FAIRWAY_SECTIONS: readonly string[] = Object.keys(ConfigSchema.shape).filter((k) => !TOP_KEYS.includes(k));
/** Feature gates the two projects register (or registered: files written for older releases still name them), with their defaults. */
const KNOWN_GATES: Readonly<Record<string, boolean>> = {
  flowControl: false,
  haPopulateNonLeaderDatastore: true,
  dataLayer: true,
  enableLegacyMetrics: false,
  prepareDataPlugins: false,
};
/** Gates that change nothing in Fairway, and why: a file naming one is accepted with a notice. */
const NO_OP_GATES: Readonly<Record<string, string>> = {
  dataLayer: 'Fairway always scrapes through its own data layer (pool.metrics)',
  enableLegacyMetrics: 'Fairway scrapes every endpoint itself (pool.metrics); there is no legacy metrics poller to fall back to',
  prepareDataPlugins: 'Fairway always prepares what scheduling reads (prefix hashes, target model) before it schedules',
};
/** llm-d's default queue-wait budget (defaultRequestTTL, and noEndpointRequestTTL following it). */
const DEFAULT_EPP_TTL_MS = 60_000;
/** Node timers cannot wait longer; the Go EPP's "0s" (never expire) becomes this. */
const MAX_TTL_MS = 2_147_483_647;
/** Fairway's scheduler.prefix bounds on the translated values. */
const MAX_PREFIX_BLOCK_BYTES = 1 << 16;

interface Resolved {
  readonly spec: PluginSpec;
  readonly mapping: PluginMapping;
}

class Translator {
  private readonly notices: string[] = [];
  readonly sink: TranslationSink;
  private readonly specs: Map<string, PluginSpec>;

  constructor(private readonly root: Obj) {
    const notices = this.notices;
    this.sink = { notice: (text) => void (notices.includes(text) ? undefined : notices.push(text)), prefix: {}, metrics: {} };
    this.specs = readPluginSpecs(root['plugins']);
  }

  run(): EppTranslation {
    const gates = this.gates();
    for (const spec of this.specs.values()) this.admit(spec);
    const scheduler = this.scheduler();
    const saturation = this.saturation();
    const flowControl = gates.flowControl === true ? this.flowControl() : this.flowControlOff();
    this.dataLayer();
    this.parsers();
    const config: Record<string, unknown> = { scheduler, flowControl };
    if (saturation !== undefined) config['saturation'] = { detector: saturation.detector, options: defined(saturation.options) };
    if (Object.keys(this.sink.metrics).length > 0) config['pool'] = { metrics: { ...this.sink.metrics } };
    return { config, notices: this.notices, fairwaySections: {} };
  }

  private gates(): Record<string, boolean> {
    const out: Record<string, boolean> = { ...KNOWN_GATES };
    asList(this.root['featureGates'], 'featureGates').forEach((raw, i) => {
      const path = `featureGates.${i}`;
      const entry = asString(raw, path).trim();
      const [name = '', value, extra] = entry.split('=');
      if (extra !== undefined || (value !== undefined && value !== 'true' && value !== 'false')) {
        throw new ConfigError(path, `must be "name", "name=true" or "name=false" (got ${describe(entry)})`);
      }
      if (!(name in KNOWN_GATES)) {
        throw new ConfigError(path, `unknown feature gate "${name}" (known: ${Object.keys(KNOWN_GATES).join(', ')})`);
      }
      out[name] = value !== 'false';
      const why = NO_OP_GATES[name];
      if (why !== undefined) this.sink.notice(`${path} (${entry}): accepted; it changes nothing in Fairway: ${why}`);
    });
    if (out['haPopulateNonLeaderDatastore'] === false) {
      this.sink.notice('featureGates: haPopulateNonLeaderDatastore=false: a Fairway standby replica keeps its pool view current anyway');
    }
    return out;
  }

  /** Every defined plug-in must be one Fairway maps (in the Go EPP, defining a producer is enough to run it). */
  private admit(spec: PluginSpec): void {
    const mapping = this.mappingOf(spec.type, `${spec.path}.type`);
    if (mapping.kind === 'no-op') {
      this.sink.notice(`${spec.path} (${spec.type}): accepted; it changes nothing in Fairway: ${mapping.why}`);
    } else if (mapping.kind === 'prefix-producer' || mapping.kind === 'metrics-source') {
      translateProducer(spec, this.sink);
    }
  }

  private mappingOf(type: string, path: string): PluginMapping {
    const mapping = PLUGIN_CATALOG.get(type);
    if (mapping === undefined) {
      throw new ConfigError(path, `unknown plug-in type "${type}": neither the Go EPP nor llm-d-router ships it`);
    }
    if (mapping.kind === 'unsupported') {
      throw new ConfigError(path, `plug-in type "${type}" has no Fairway equivalent; nearest: ${mapping.nearest}`);
    }
    return mapping;
  }

  /** A pluginRef: a plug-in defined under that name, or (as the Go loader allows) a built-in type by its name. */
  private resolve(ref: string, path: string): Resolved {
    const spec = this.specs.get(ref);
    if (spec !== undefined) return { spec, mapping: this.mappingOf(spec.type, `${spec.path}.type`) };
    if (PLUGIN_CATALOG.has(ref)) {
      return { spec: { name: ref, type: ref, parameters: {}, path }, mapping: this.mappingOf(ref, path) };
    }
    const defined = [...this.specs.keys()];
    throw new ConfigError(path, `"${ref}" names no plug-in in plugins (defined: ${defined.length > 0 ? defined.join(', ') : 'none'})`);
  }

  private scheduler(): Record<string, unknown> {
    const profiles = asList(this.root['schedulingProfiles'], 'schedulingProfiles');
    if (profiles.length > 1) {
      const names = profiles.map((p) => (typeof p === 'object' && p !== null ? String((p as Obj)['name']) : '?'));
      throw new ConfigError(
        'schedulingProfiles',
        `${profiles.length} profiles (${names.join(', ')}): Fairway runs one scheduling profile per pool; prefill/decode disaggregation has no Fairway equivalent, keep one profile`,
      );
    }
    let refs: { ref: string; weight: number | undefined; path: string }[];
    if (profiles.length === 0) {
      // As the Go loader does: one profile holding every filter, scorer and picker defined.
      refs = [...this.specs.values()]
        .filter((s) => ['filter', 'scorer', 'picker', 'decode-filter'].includes(PLUGIN_CATALOG.get(s.type)?.kind ?? ''))
        .map((s) => ({ ref: s.name, weight: undefined, path: s.path }));
    } else {
      const profile = asObject(profiles[0], 'schedulingProfiles.0');
      checkKeys(profile, ['name', 'plugins'], 'schedulingProfiles.0');
      asString(profile['name'], 'schedulingProfiles.0.name');
      refs = asList(profile['plugins'], 'schedulingProfiles.0.plugins').map((raw, i) => {
        const path = `schedulingProfiles.0.plugins.${i}`;
        const o = asObject(raw, path);
        checkKeys(o, ['pluginRef', 'weight'], path);
        return { ref: asString(o['pluginRef'], `${path}.pluginRef`), weight: optionalNumber(o['weight'], `${path}.weight`), path };
      });
    }
    const filters: Record<string, unknown>[] = [];
    const scorers: Record<string, unknown>[] = [];
    let picker: Record<string, unknown> | undefined;
    for (const { ref, weight, path } of refs) {
      const { spec, mapping } = this.resolve(ref, `${path}.pluginRef`);
      switch (mapping.kind) {
        case 'filter':
          filters.push({ type: mapping.to, parameters: translateFilter(spec, this.sink) });
          break;
        case 'decode-filter':
          this.sink.notice(`${spec.path} (${spec.type}): accepted; in a pool without prefill/decode roles every endpoint decodes, so it removes none`);
          break;
        case 'scorer': {
          // The Go loader's default weight for a scorer listed without one.
          const w = weight ?? 1;
          if (w < 0) throw new ConfigError(`${path}.weight`, `must be >= 0 (got ${w})`);
          const parameters = translateScorer(spec, this.sink);
          scorers.push({ type: mapping.to, weight: w, ...(parameters !== undefined ? { parameters } : {}) });
          break;
        }
        case 'picker':
          if (picker !== undefined) throw new ConfigError(`${path}.pluginRef`, 'a profile has one picker; this is the second');
          translatePicker(spec, this.sink);
          picker = { type: mapping.to };
          break;
        case 'profile-handler':
          break;
        default:
          throw new ConfigError(`${path}.pluginRef`, `"${ref}" is a ${spec.type}, not a filter, scorer or picker`);
      }
    }
    const out: Record<string, unknown> = { profile: { filters, scorers, picker: picker ?? { type: 'max-score-picker' } } };
    if (this.sink.fallbackEndpoints !== undefined) out['fallbackEndpoints'] = this.sink.fallbackEndpoints;
    const prefix = defined(this.sink.prefix);
    if (typeof prefix['blockSize'] === 'number' && prefix['blockSize'] > MAX_PREFIX_BLOCK_BYTES) {
      throw new ConfigError('plugins', `prefix block size of ${prefix['blockSize']} bytes is over Fairway's ${MAX_PREFIX_BLOCK_BYTES}`);
    }
    if (Object.keys(prefix).length > 0) out['prefix'] = prefix;
    return out;
  }

  private saturation(): DetectorSettings | undefined {
    const fc = asObject(this.root['flowControl'], 'flowControl');
    const nested = asObject(fc['saturationDetector'], 'flowControl.saturationDetector');
    checkKeys(nested, ['pluginRef'], 'flowControl.saturationDetector');
    const top = asObject(this.root['saturationDetector'], 'saturationDetector');
    checkKeys(top, ['pluginRef', 'queueDepthThreshold', 'kvCacheUtilThreshold', 'metricsStalenessThreshold'], 'saturationDetector');
    const nestedRef = optionalString(nested['pluginRef'], 'flowControl.saturationDetector.pluginRef');
    const topRef = optionalString(top['pluginRef'], 'saturationDetector.pluginRef');
    const ref = nestedRef ?? topRef;
    if (ref !== undefined) {
      const path = nestedRef !== undefined ? 'flowControl.saturationDetector.pluginRef' : 'saturationDetector.pluginRef';
      const { spec, mapping } = this.resolve(ref, path);
      if (mapping.kind !== 'detector') throw new ConfigError(path, `"${ref}" is a ${spec.type}, not a saturation detector`);
      return translateDetector(spec, this.sink);
    }
    // The Go EPP's earlier shape: the utilization detector's thresholds inline.
    if (Object.keys(top).length > 0) return { detector: 'utilization', options: utilizationOptions(top, 'saturationDetector') };
    const detectors = [...this.specs.values()].filter((s) => PLUGIN_CATALOG.get(s.type)?.kind === 'detector');
    const chosen = detectors.find((s) => s.name === 'utilization-detector') ?? (detectors.length === 1 ? detectors[0] : undefined);
    if (chosen !== undefined) return translateDetector(chosen, this.sink);
    if (detectors.length > 1) {
      throw new ConfigError('plugins', `${detectors.length} saturation detectors defined and none referenced: name one in flowControl.saturationDetector.pluginRef`);
    }
    this.sink.notice(
      'no saturation detector named: Fairway\'s hybrid detector runs (5 waiting, KV cache 0.9 where the Go EPP\'s utilization detector uses 0.8, plus what Fairway sent since each scrape); name utilization-detector to keep the Go thresholds',
    );
    return undefined;
  }

  /** Without the gate the Go EPP routes at once and sheds sheddable work when saturated: Fairway's pass-through. */
  private flowControlOff(): Record<string, unknown> {
    if (this.root['flowControl'] !== undefined) {
      this.sink.notice('flowControl: ignored, as the Go EPP ignores it, because the flowControl feature gate is off');
    }
    this.sink.notice(
      'featureGates: flowControl is off: as in the Go EPP, requests of priority >= 0 are routed at once whatever the saturation (flowControl.passThrough); sheddable ones wait up to their TTL instead of being shed at once while the pool is saturated',
    );
    return { passThrough: true, inflightEviction: { enabled: false } };
  }

  private flowControl(): Record<string, unknown> {
    const path = 'flowControl';
    const fc = asObject(this.root[path], path);
    checkKeys(
      fc,
      ['maxBytes', 'maxRequests', 'defaultRequestTTL', 'noEndpointRequestTTL', 'defaultPriorityBand', 'defaultNegativePriorityBand', 'priorityBands', 'usageLimitPolicyPluginRef', 'saturationDetector', 'enableEviction'],
      path,
    );
    const out: Record<string, unknown> = {};
    const limit = (key: string): number | undefined => {
      if (fc[key] === undefined) return undefined;
      const n = parseQuantity(fc[key], `${path}.${key}`);
      return n === 0 ? undefined : n; // "0" or absent: no global limit
    };
    const maxBytes = limit('maxBytes');
    const maxRequests = limit('maxRequests');
    if (maxBytes !== undefined) out['maxQueuedBytes'] = maxBytes;
    if (maxRequests !== undefined) out['maxQueuedRequests'] = maxRequests;
    const ttl = (key: string): number | undefined => {
      if (fc[key] === undefined) return undefined;
      const ms = parseGoDuration(fc[key], `${path}.${key}`);
      if (ms === 0) this.sink.notice(`${path}.${key}: 0s (never expire) becomes Fairway's longest wait, ${MAX_TTL_MS} ms (24.8 days)`);
      return ms === 0 ? MAX_TTL_MS : Math.min(MAX_TTL_MS, Math.max(1, Math.ceil(ms)));
    };
    const defaultTtl = ttl('defaultRequestTTL');
    if (defaultTtl !== undefined) out['defaultTtlMs'] = defaultTtl;
    // As in llm-d, a pool with no endpoints holds requests: for noEndpointRequestTTL, else defaultRequestTTL, else 60 s.
    const noEndpointTtl = ttl('noEndpointRequestTTL');
    out['noEndpointRequestTtlMs'] = noEndpointTtl ?? defaultTtl ?? DEFAULT_EPP_TTL_MS;
    if (noEndpointTtl === undefined) {
      this.sink.notice(
        `${path}.noEndpointRequestTTL unset: as in llm-d, requests wait up to ${String(out['noEndpointRequestTtlMs'])} ms for the pool's first endpoint (scale from zero), the default request TTL`,
      );
    }
    if (fc['defaultNegativePriorityBand'] !== undefined) {
      throw new ConfigError(
        `${path}.defaultNegativePriorityBand`,
        'Fairway has one template for unlisted priorities (defaultPriorityBand); nearest: list each negative priority you use in priorityBands',
      );
    }
    const usage = this.usageLimit(fc);
    const ceiling = usage?.ceiling !== undefined ? { ceiling: usage.ceiling } : {};
    if (usage !== undefined) out['usageLimit'] = { name: usage.name, ...(usage.params !== undefined ? { params: usage.params } : {}) };
    out['bandTemplate'] = { ...(fc['defaultPriorityBand'] !== undefined ? this.band(fc['defaultPriorityBand'], `${path}.defaultPriorityBand`, false) : {}), ...ceiling };
    const seen = new Set<number>();
    out['bands'] = asList(fc['priorityBands'], `${path}.priorityBands`).map((raw, i) => {
      const at = `${path}.priorityBands.${i}`;
      const band = this.band(raw, at, true);
      const priority = band['priority'] as number;
      if (seen.has(priority)) throw new ConfigError(`${at}.priority`, `priority ${priority} is listed twice`);
      seen.add(priority);
      return { ...band, ...ceiling };
    });
    out['inflightEviction'] = { enabled: optionalBoolean(fc['enableEviction'], `${path}.enableEviction`) ?? false };
    return out;
  }

  private usageLimit(fc: Obj): UsageLimitSettings | undefined {
    const path = 'flowControl.usageLimitPolicyPluginRef';
    const ref = optionalString(fc['usageLimitPolicyPluginRef'], path);
    if (ref === undefined) return undefined;
    const { spec, mapping } = this.resolve(ref, path);
    if (mapping.kind !== 'usage-limit') throw new ConfigError(path, `"${ref}" is a ${spec.type}, not a usage-limit policy`);
    return translateUsageLimit(spec, this.sink);
  }

  private band(raw: unknown, path: string, needsPriority: boolean): Record<string, unknown> {
    const b = asObject(raw, path);
    checkKeys(b, ['priority', 'maxBytes', 'maxRequests', 'fairnessPolicyRef', 'orderingPolicyRef'], path);
    const out: Record<string, unknown> = {};
    if (needsPriority) {
      const p = optionalNumber(b['priority'], `${path}.priority`);
      if (p === undefined || !Number.isInteger(p)) throw new ConfigError(`${path}.priority`, `must be a whole number (got ${describe(b['priority'])})`);
      out['priority'] = p;
    }
    for (const [key, to] of [['maxBytes', 'maxBytes'], ['maxRequests', 'maxRequests']] as const) {
      if (b[key] === undefined) continue;
      const n = parseQuantity(b[key], `${path}.${key}`);
      if (n > 0) out[to] = n; // "0": the system default, as in the Go EPP
    }
    for (const [key, kind, to] of [['fairnessPolicyRef', 'fairness', 'fairness'], ['orderingPolicyRef', 'ordering', 'ordering']] as const) {
      const ref = optionalString(b[key], `${path}.${key}`);
      if (ref === undefined) continue;
      const { spec, mapping } = this.resolve(ref, `${path}.${key}`);
      if (mapping.kind !== kind) throw new ConfigError(`${path}.${key}`, `"${ref}" is a ${spec.type}, not a ${kind} policy`);
      out[to] = mapping.to;
    }
    return out;
  }

  private dataLayer(): void {
    const key = this.root['dataLayer'] !== undefined ? 'dataLayer' : 'data';
    const dl = asObject(this.root[key], key);
    checkKeys(dl, ['injectDefaults', 'sources', 'discovery', 'peerDiscovery', 'crossReplicaSyncerPluginRef', 'crossReplicaSyncInterval'], key);
    for (const shared of ['peerDiscovery', 'crossReplicaSyncerPluginRef'] as const) {
      if (dl[shared] !== undefined) {
        throw new ConfigError(join(key, shared), 'Fairway replicas share state through sharedState (Redis, or --workers on one host); nearest: sharedState');
      }
    }
    asList(dl['sources'], join(key, 'sources')).forEach((raw, i) => {
      const at = join(key, `sources.${i}`);
      const s = asObject(raw, at);
      checkKeys(s, ['pluginRef', 'extractors'], at);
      this.resolve(asString(s['pluginRef'], `${at}.pluginRef`), `${at}.pluginRef`);
      asList(s['extractors'], `${at}.extractors`).forEach((e, j) => {
        const ep = `${at}.extractors.${j}`;
        const eo = asObject(e, ep);
        checkKeys(eo, ['pluginRef'], ep);
        this.resolve(asString(eo['pluginRef'], `${ep}.pluginRef`), `${ep}.pluginRef`);
      });
    });
    const discovery = asObject(dl['discovery'], join(key, 'discovery'));
    checkKeys(discovery, ['pluginRef'], join(key, 'discovery'));
    const ref = optionalString(discovery['pluginRef'], join(key, 'discovery.pluginRef'));
    if (ref !== undefined) this.resolve(ref, join(key, 'discovery.pluginRef'));
  }

  private parsers(): void {
    const rh = asObject(this.root['requestHandler'], 'requestHandler');
    checkKeys(rh, ['parsers'], 'requestHandler');
    const refs = asList(rh['parsers'], 'requestHandler.parsers').map((raw, i) => ({ raw, path: `requestHandler.parsers.${i}` }));
    if (this.root['parser'] !== undefined) refs.push({ raw: this.root['parser'], path: 'parser' });
    for (const { raw, path } of refs) {
      const o = asObject(raw, path);
      checkKeys(o, ['pluginRef'], path);
      this.resolve(asString(o['pluginRef'], `${path}.pluginRef`), `${path}.pluginRef`);
    }
  }
}

/** The object without its undefined entries (the effective configuration prints without them). */
function defined(o: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Translates a parsed EndpointPickerConfig document; throws ConfigError with the field's path in the file. */
export function translateEndpointPickerConfig(doc: unknown): EppTranslation {
  const root = asObject(doc, '');
  checkKeys(root, [...TOP_KEYS, ...FAIRWAY_SECTIONS], '');
  checkHeader(root);
  const translated = new Translator(root).run();
  const fairwaySections = Object.fromEntries(FAIRWAY_SECTIONS.filter((k) => root[k] !== undefined).map((k) => [k, root[k]]));
  return { ...translated, fairwaySections };
}
