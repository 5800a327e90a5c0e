// Parameters of the mapped plug-ins: each Go/llm-d parameter becomes its Fairway setting (same meaning, Fairway's
// unit), or a notice saying precisely what Fairway does instead. Refusals name the parameter and the nearest
// Fairway setting.
import { ConfigError, describe } from '../../core/index.js';
import { type Obj, type PluginSpec, asList, asObject, asString, join, optionalBoolean, optionalNumber, optionalString } from './document.js';
import { parseGoDuration } from './units.js';

/** Fairway's prefix hashing counts 4 bytes per token (DEFAULT_BLOCK_SIZE_BYTES 64 = the reference's 16 tokens). */
const BYTES_PER_TOKEN = 4;
/** Fairway's scheduler.fallbackEndpoints bound: a primary and at most 8 fallbacks. */
const MAX_ENDPOINTS_PICKED = 9;

/** What plug-ins set outside the profile, collected while translating. */
export interface TranslationSink {
  notice(text: string): void;
  readonly prefix: { blockSize?: number; maxPrefixBlocksToMatch?: number; maxPrefixTokensToMatch?: number; lruCapacityPerServer?: number };
  readonly metrics: Record<string, unknown>;
  fallbackEndpoints?: number;
}

function label(spec: PluginSpec): string {
  return spec.name === spec.type ? `${spec.path} (${spec.type})` : `${spec.path} (${spec.name}: ${spec.type})`;
}

/** Parameters Fairway does not know: a notice each (the Go EPP's JSON decoding ignores unknown fields too). */
function checkParameters(spec: PluginSpec, known: readonly string[], sink: TranslationSink): void {
  for (const key of Object.keys(spec.parameters)) {
    if (!known.includes(key)) sink.notice(`${label(spec)}: parameter "${key}" is not one of ${spec.type}'s; ignored`);
  }
}

const param = (spec: PluginSpec, key: string): string => join(`${spec.path}.parameters`, key);

/** Prefix hashing settings, from either the GIE scorer's parameters or llm-d's producer's. */
function prefixSettings(spec: PluginSpec, sink: TranslationSink): void {
  const p = spec.parameters;
  const tokens = optionalNumber(p['blockSizeTokens'], param(spec, 'blockSizeTokens'));
  const chars = optionalNumber(p['blockSize'], param(spec, 'blockSize'));
  const positiveInt = (v: number | undefined, key: string): number | undefined => {
    if (v === undefined || v === 0) return undefined;
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(param(spec, key), `must be a whole number >= 0 (got ${describe(v)})`);
    return v;
  };
  const blockTokens = positiveInt(tokens, 'blockSizeTokens');
  const blockChars = positiveInt(chars, 'blockSize');
  // blockSizeTokens wins over the legacy character count, as in llm-d.
  if (blockTokens !== undefined) sink.prefix.blockSize = blockTokens * BYTES_PER_TOKEN;
  else if (blockChars !== undefined) sink.prefix.blockSize = blockChars;
  // Fairway reads both bounds as llm-d does: the token bound, when set, is the smaller of the two that applies.
  const maxTokens = positiveInt(optionalNumber(p['maxPrefixTokensToMatch'], param(spec, 'maxPrefixTokensToMatch')), 'maxPrefixTokensToMatch');
  const maxBlocks = positiveInt(optionalNumber(p['maxPrefixBlocksToMatch'], param(spec, 'maxPrefixBlocksToMatch')), 'maxPrefixBlocksToMatch');
  if (maxTokens !== undefined) sink.prefix.maxPrefixTokensToMatch = maxTokens;
  if (maxBlocks !== undefined) sink.prefix.maxPrefixBlocksToMatch = maxBlocks;
  const lru = positiveInt(optionalNumber(p['lruCapacityPerServer'], param(spec, 'lruCapacityPerServer')), 'lruCapacityPerServer');
  if (lru !== undefined) sink.prefix.lruCapacityPerServer = lru;
  if (optionalBoolean(p['autoTune'], param(spec, 'autoTune')) === false) {
    sink.notice(`${label(spec)}: autoTune false: Fairway still sizes each endpoint's prefix index from its reported KV-cache blocks when known`);
  }
}

/** A scorer's Fairway parameters (most take none); what theirs configure elsewhere is translated or named. */
export function translateScorer(spec: PluginSpec, sink: TranslationSink): Record<string, unknown> | undefined {
  switch (spec.type) {
    case 'session-affinity-scorer': {
      checkParameters(spec, ['strategy', 'encodedEndpointHeaderConfig', 'sessionIdConfig', 'profileName'], sink);
      const strategy = optionalString(spec.parameters['strategy'], param(spec, 'strategy'));
      if (strategy !== undefined && strategy !== 'encoded_endpoint_header') {
        throw new ConfigError(
          param(spec, 'strategy'),
          `Fairway's session-affinity-scorer issues the serving endpoint's token to the client; nearest: encoded_endpoint_header (got ${describe(strategy)})`,
        );
      }
      if (optionalString(spec.parameters['profileName'], param(spec, 'profileName')) !== undefined) {
        sink.notice(`${label(spec)}: profileName: Fairway runs one profile; the token names the endpoint that served`);
      }
      const cfg = asObject(spec.parameters['encodedEndpointHeaderConfig'], param(spec, 'encodedEndpointHeaderConfig'));
      const header = optionalString(cfg['header'], `${param(spec, 'encodedEndpointHeaderConfig')}.header`);
      sink.notice(`${label(spec)}: tokens name endpoints (host:port), not pods: tokens issued by the Go EPP match none, so those sessions re-pin once`);
      return header !== undefined ? { header: header.trim().toLowerCase() } : undefined;
    }
    case 'prefix-cache-scorer': {
      checkParameters(spec, ['blockSize', 'blockSizeTokens', 'maxPrefixBlocksToMatch', 'maxPrefixTokensToMatch', 'lruCapacityPerServer', 'autoTune', 'prefixMatchInfoProducerName', 'matchLengthWeight', 'matchLengthScaleTokens'], sink);
      prefixSettings(spec, sink);
      const w = optionalNumber(spec.parameters['matchLengthWeight'], param(spec, 'matchLengthWeight'));
      if (w !== undefined && w !== 0) {
        sink.notice(`${label(spec)}: matchLengthWeight ${w}: Fairway scores the matched fraction of the prompt only (as with 0)`);
      }
      return undefined;
    }
    case 'token-load-scorer':
      checkParameters(spec, ['queueThresholdTokens', 'inFlightLoadProducerName'], sink);
      if (spec.parameters['queueThresholdTokens'] !== undefined) {
        sink.notice(`${label(spec)}: queueThresholdTokens: Fairway's token-load-scorer normalises in-flight tokens min-max over the candidates instead of against a threshold`);
      }
      return undefined;
    case 'no-hit-lru-scorer': {
      // Which prefix scorer tells cold from warm: Fairway has one prefix index, so either name means it.
      checkParameters(spec, ['prefixPluginType', 'prefixPluginName', 'lruSize'], sink);
      const lruSize = optionalNumber(spec.parameters['lruSize'], param(spec, 'lruSize'));
      if (lruSize === undefined) return undefined;
      if (!Number.isInteger(lruSize) || lruSize <= 0) throw new ConfigError(param(spec, 'lruSize'), `must be a whole number of endpoints > 0 (got ${describe(lruSize)})`);
      return { lruSize };
    }
    case 'load-aware-scorer': {
      checkParameters(spec, ['threshold'], sink);
      const threshold = optionalNumber(spec.parameters['threshold'], param(spec, 'threshold'));
      if (threshold === undefined) return undefined;
      if (!Number.isInteger(threshold)) throw new ConfigError(param(spec, 'threshold'), `must be a whole number of waiting requests (got ${describe(threshold)})`);
      if (threshold <= 0) {
        // llm-d replaces a non-positive threshold with its default (and logs it); so does Fairway.
        sink.notice(`${label(spec)}: threshold ${threshold} is not positive; the default (128) applies, as in llm-d`);
        return undefined;
      }
      return { threshold };
    }
    case 'active-request-scorer':
      checkParameters(spec, ['requestTimeout', 'idleThreshold', 'maxBusyScore', 'inFlightLoadProducerName'], sink);
      sink.notice(
        `${label(spec)}: mapped to inflight-load-scorer (waiting queue as last scraped plus requests Fairway sent since, min-max normalised; a request leaves when its response ends, so requestTimeout, idleThreshold and maxBusyScore are not used)`,
      );
      return undefined;
    default:
      checkParameters(spec, [], sink);
      return undefined;
  }
}

/** utilization-filter's conditions onto the saturation filter's thresholds. */
export function translateFilter(spec: PluginSpec, sink: TranslationSink): Record<string, unknown> {
  checkParameters(spec, ['conditions', 'fallbackOnEmpty', 'inFlightLoadProducerName'], sink);
  const out: Record<string, unknown> = {};
  const conditions = asList(spec.parameters['conditions'], param(spec, 'conditions'));
  if (conditions.length === 0) throw new ConfigError(param(spec, 'conditions'), 'utilization-filter needs at least one condition');
  conditions.forEach((raw, i) => {
    const at = join(param(spec, 'conditions'), i);
    const c = asObject(raw, at);
    const metric = asString(c['metric'], `${at}.metric`);
    const max = optionalNumber(c['maxValue'], `${at}.maxValue`);
    if (max === undefined || max < 0) throw new ConfigError(`${at}.maxValue`, 'must be a number >= 0');
    if (metric === 'waiting-queue') {
      // Theirs keeps an endpoint at <= maxValue waiting requests; ours keeps it below the threshold.
      out['queueDepthThreshold'] = Math.floor(max) + 1;
    } else if (metric === 'kv-cache-utilization') {
      if (max <= 0 || max > 1) throw new ConfigError(`${at}.maxValue`, `must be a fraction in (0, 1] for kv-cache-utilization (got ${max})`);
      out['kvCacheThreshold'] = max;
    } else if (metric === 'running-requests' || metric === 'active-requests') {
      throw new ConfigError(
        `${at}.metric`,
        `"${metric}" has no Fairway saturation-filter condition; nearest: a concurrency or hybrid saturation detector with maxRequests (the filter follows the detector's per-endpoint headroom)`,
      );
    } else {
      throw new ConfigError(`${at}.metric`, `must be waiting-queue, kv-cache-utilization, running-requests or active-requests (got ${describe(metric)})`);
    }
  });
  sink.notice(
    `${label(spec)}: mapped to saturation-filter, which keeps the endpoints the saturation detector gives headroom (so the gate and routing agree) and keeps every candidate when none has any`,
  );
  return out;
}

/** maxNumOfEndpoints: the primary plus fallbacks in x-gateway-destination-endpoint. */
export function translatePicker(spec: PluginSpec, sink: TranslationSink): void {
  checkParameters(spec, ['maxNumOfEndpoints'], sink);
  const n = optionalNumber(spec.parameters['maxNumOfEndpoints'], param(spec, 'maxNumOfEndpoints'));
  if (n === undefined) return;
  if (!Number.isInteger(n) || n < 1 || n > MAX_ENDPOINTS_PICKED) {
    throw new ConfigError(param(spec, 'maxNumOfEndpoints'), `must be a whole number from 1 to ${MAX_ENDPOINTS_PICKED} (got ${n})`);
  }
  sink.fallbackEndpoints = n - 1;
}

export interface DetectorSettings {
  readonly detector: string;
  readonly options: Record<string, unknown>;
}

function headroomNotice(spec: PluginSpec, sink: TranslationSink): void {
  const headroom = optionalNumber(spec.parameters['headroom'], param(spec, 'headroom'));
  if (headroom !== undefined && headroom !== 0) {
    sink.notice(`${label(spec)}: headroom ${headroom}: Fairway's saturation filter uses the detector's own thresholds (no burst allowance above them)`);
  }
}

export function translateDetector(spec: PluginSpec, sink: TranslationSink): DetectorSettings {
  const p = spec.parameters;
  if (spec.type === 'concurrency-detector') {
    checkParameters(spec, ['maxConcurrency', 'maxTokenConcurrency', 'concurrencyMode', 'headroom', 'inFlightLoadProducerName'], sink);
    headroomNotice(spec, sink);
    const mode = optionalString(p['concurrencyMode'], param(spec, 'concurrencyMode'));
    const modes: Readonly<Record<string, string>> = { requests: 'requests', tokens: 'tokens', hybrid: 'both' };
    if (mode !== undefined && modes[mode] === undefined) {
      throw new ConfigError(param(spec, 'concurrencyMode'), `must be requests, tokens or hybrid (got ${describe(mode)})`);
    }
    return {
      detector: 'concurrency',
      options: {
        maxRequests: optionalNumber(p['maxConcurrency'], param(spec, 'maxConcurrency')),
        maxTokens: optionalNumber(p['maxTokenConcurrency'], param(spec, 'maxTokenConcurrency')),
        mode: mode === undefined ? undefined : modes[mode],
      },
    };
  }
  checkParameters(spec, ['queueDepthThreshold', 'kvCacheUtilThreshold', 'metricsStalenessThreshold', 'headroom'], sink);
  headroomNotice(spec, sink);
  return { detector: 'utilization', options: utilizationOptions(p, `${spec.path}.parameters`) };
}

/** The utilization thresholds, from a detector plug-in's parameters or the GIE's top-level saturationDetector. */
export function utilizationOptions(p: Obj, path: string): Record<string, unknown> {
  const staleness = p['metricsStalenessThreshold'];
  return {
    queueThreshold: optionalNumber(p['queueDepthThreshold'], join(path, 'queueDepthThreshold')),
    kvThreshold: optionalNumber(p['kvCacheUtilThreshold'], join(path, 'kvCacheUtilThreshold')),
    stalenessMs: staleness === undefined ? undefined : parseGoDuration(staleness, join(path, 'metricsStalenessThreshold')),
  };
}

export interface UsageLimitSettings {
  readonly name: string;
  readonly params?: Record<string, number>;
  /** static-usage-limit-policy's threshold: every band's ceiling. */
  readonly ceiling?: number;
}

export function translateUsageLimit(spec: PluginSpec, sink: TranslationSink): UsageLimitSettings {
  const p = spec.parameters;
  if (spec.type === 'static-usage-limit-policy') {
    checkParameters(spec, ['threshold'], sink);
    const threshold = optionalNumber(p['threshold'], param(spec, 'threshold'));
    if (threshold !== undefined && !(threshold > 0)) throw new ConfigError(param(spec, 'threshold'), `must be > 0 (got ${threshold})`);
    return { name: 'static', ...(threshold !== undefined ? { ceiling: threshold } : {}) };
  }
  checkParameters(spec, ['shape', 'domain', 'minCeiling', 'maxCeiling'], sink);
  const shape = optionalString(p['shape'], param(spec, 'shape'));
  if (shape !== undefined && shape !== 'linear') throw new ConfigError(param(spec, 'shape'), `must be linear (got ${describe(shape)})`);
  const domain = optionalString(p['domain'], param(spec, 'domain'));
  if (domain !== undefined && domain !== 'rank') {
    throw new ConfigError(param(spec, 'domain'), `Fairway's priority-holdback spaces ceilings by rank only; nearest: rank (got ${describe(domain)})`);
  }
  const min = optionalNumber(p['minCeiling'], param(spec, 'minCeiling'));
  if (min === undefined) throw new ConfigError(param(spec, 'minCeiling'), 'is required (the ceiling of the lowest-priority band)');
  const max = optionalNumber(p['maxCeiling'], param(spec, 'maxCeiling'));
  return { name: 'priority-holdback', params: { minCeiling: min, ...(max !== undefined ? { maxCeiling: max } : {}) } };
}

/** Plug-ins configuring something outside the profile: prefix hashing and scraping. */
export function translateProducer(spec: PluginSpec, sink: TranslationSink): void {
  if (spec.type === 'approx-prefix-cache-producer') {
    checkParameters(spec, ['blockSize', 'blockSizeTokens', 'maxPrefixBlocksToMatch', 'maxPrefixTokensToMatch', 'lruCapacityPerServer', 'autoTune'], sink);
    prefixSettings(spec, sink);
    return;
  }
  // metrics-data-source
  checkParameters(spec, ['scheme', 'path', 'port', 'insecureSkipVerify', 'caCertPath', 'clientCertPath', 'clientKeyPath', 'interval'], sink);
  const p = spec.parameters;
  const scheme = optionalString(p['scheme'], param(spec, 'scheme'));
  if (scheme !== undefined && scheme !== 'http') {
    throw new ConfigError(param(spec, 'scheme'), `Fairway scrapes model-server metrics over plain HTTP; nearest: http (got ${describe(scheme)})`);
  }
  if (p['port'] !== undefined) {
    throw new ConfigError(param(spec, 'port'), 'Fairway scrapes metrics on each endpoint\'s serving port; nearest: pool.endpoints[].metricsPath on that port');
  }
  const path = optionalString(p['path'], param(spec, 'path'));
  if (path !== undefined) sink.metrics['path'] = path.startsWith('/') ? path : `/${path}`;
  if (p['interval'] !== undefined) sink.metrics['intervalMs'] = parseGoDuration(p['interval'], param(spec, 'interval'));
}
