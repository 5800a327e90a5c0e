// EndpointPickerConfig files in the shapes the Go EPP and llm-d-router publish translate into Fairway
// configurations that validate and build; every plug-in type they ship either maps or is refused naming the
// nearest Fairway equivalent; malformed files are refused with the field's path.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfigDocument, translateEndpointPickerConfig, validateConfig } from '../../../src/config/index.js';
import { PLUGIN_CATALOG } from '../../../src/config/epp/index.js';
import { priorityHoldback } from '../../../src/flowcontrol/policies/usage-limit/priority-holdback.js';
import { buildProfile } from '../../../src/scheduler/index.js';

const fixture = (name: string): string => readFileSync(new URL(`./epp-fixtures/${name}`, import.meta.url), 'utf8');

function translate(yaml: string): ReturnType<typeof loadConfig> {
  const loaded = loadConfig(yaml, 'test.yaml');
  expect(loaded.format).toBe('endpoint-picker');
  // The profile it names must build with Fairway's registries.
  buildProfile(loaded.config.scheduler.profile);
  return loaded;
}

const header = 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n';

describe('EndpointPickerConfig translation: published shapes', () => {
  it('llm-d flow control: bands with policy refs, holdback, detector thresholds in their units, eviction, data layer', () => {
    const { config, notices } = translate(fixture('llm-d-flow-control.yaml'));
    expect(config.scheduler.profile).toEqual({
      filters: [{ type: 'saturation-filter', parameters: { queueDepthThreshold: 8, kvCacheThreshold: 0.9 } }],
      scorers: [
        { type: 'queue-scorer', weight: 2 },
        { type: 'kv-cache-utilization-scorer', weight: 2 },
        { type: 'prefix-cache-scorer', weight: 3 },
        { type: 'lora-affinity-scorer', weight: 1 },
      ],
      picker: { type: 'max-score-picker' },
    });
    expect(config.scheduler.fallbackEndpoints).toBe(2);
    expect(config.saturation).toEqual({ detector: 'utilization', options: { queueThreshold: 8, kvThreshold: 0.85, stalenessMs: 150 } });
    const fc = config.flowControl;
    expect(fc.maxQueuedRequests).toBe(10_000);
    expect(fc.maxQueuedBytes).toBe(2 * 1024 ** 3);
    expect(fc.defaultTtlMs).toBe(45_000);
    // noEndpointRequestTTL unset follows defaultRequestTTL, as in llm-d: the scale-from-zero waiting room.
    expect(fc.noEndpointRequestTtlMs).toBe(45_000);
    expect(fc.bandTemplate).toEqual({ maxRequests: 500, fairness: 'round-robin' });
    expect(fc.bands).toEqual([
      { priority: 100, ordering: 'fcfs', maxBytes: 500_000_000 },
      { priority: -1, ordering: 'edf', fairness: 'global-strict' },
    ]);
    expect(fc.usageLimit).toEqual({ name: 'priority-holdback', params: { minCeiling: 0.6 } });
    expect(fc.inflightEviction.enabled).toBe(true);
    expect(config.pool.metrics.path).toBe('/custom-metrics');
    expect(config.pool.metrics.intervalMs).toBe(25);
    for (const type of ['sheddable-eviction-filter', 'openai-parser', 'core-metrics-extractor', 'utilization-filter']) {
      expect(notices.some((n) => n.includes(type)), type).toBe(true);
    }
  });

  it('the Go EPP\'s v1alpha1 shape: inline saturation thresholds, prefix block parameters, static threshold, data:', () => {
    const { config } = translate(fixture('gie-v1alpha1.yaml'));
    expect(config.scheduler.prefix).toEqual({ blockSize: 128, maxPrefixBlocksToMatch: 256, lruCapacityPerServer: 20_000, denseBlocks: 256, keyEvery: 8 });
    expect(config.scheduler.profile).toMatchObject({
      scorers: [
        { type: 'prefix-cache-scorer', weight: 50 },
        { type: 'queue-scorer', weight: 1 },
        { type: 'running-requests-size-scorer', weight: 1 },
        { type: 'token-load-scorer', weight: 0.5 },
      ],
      picker: { type: 'weighted-random-picker' },
    });
    expect(config.scheduler.fallbackEndpoints).toBe(0);
    expect(config.saturation).toEqual({ detector: 'utilization', options: { queueThreshold: 10, kvThreshold: 0.7, stalenessMs: 300 } });
    expect(config.flowControl.maxQueuedBytes).toBe(1024);
    expect(config.flowControl.defaultTtlMs).toBe(90_000);
    expect(config.flowControl.noEndpointRequestTtlMs).toBe(90_000);
    // static-usage-limit-policy's threshold is every band's ceiling.
    expect(config.flowControl.bandTemplate.ceiling).toBe(0.9);
    expect(config.flowControl.bands).toEqual([{ priority: 10, ceiling: 0.9 }]);
    expect(config.flowControl.inflightEviction.enabled).toBe(false);
    expect(config.flowControl.passThrough).toBe(false);
  });

  it('llm-d\'s prefix producer sets the block size in tokens (4 bytes each), the prefix cap in tokens and the LRU size; decode-filter is a logged no-op', () => {
    const { config, notices } = translate(fixture('llm-d-prefix-decode.yaml'));
    expect(config.scheduler.prefix).toEqual({ blockSize: 128, maxPrefixBlocksToMatch: 8192, maxPrefixTokensToMatch: 8192, lruCapacityPerServer: 50_000, denseBlocks: 256, keyEvery: 8 });
    expect(config.scheduler.profile).toEqual({ filters: [], scorers: [{ type: 'prefix-cache-scorer', weight: 2 }], picker: { type: 'max-score-picker' } });
    expect(notices.filter((n) => n.includes('decode-filter'))).toHaveLength(1);
    expect(notices.some((n) => n.includes('flowControl is off'))).toBe(true);
  });

  it('no schedulingProfiles: one profile of every filter, scorer and picker; concurrency detector; flowControl=false', () => {
    const { config, notices } = translate(fixture('concurrency-no-profiles.yaml'));
    expect(config.scheduler.profile).toEqual({
      filters: [],
      scorers: [
        { type: 'kv-cache-utilization-scorer', weight: 1 },
        { type: 'inflight-load-scorer', weight: 1 },
      ],
      picker: { type: 'random-picker' },
    });
    expect(config.saturation).toEqual({ detector: 'concurrency', options: { maxRequests: 64, maxTokens: 200_000, mode: 'both' } });
    // Without the gate the Go EPP routes at once: Fairway's pass-through, and no waiting room.
    expect(config.flowControl.passThrough).toBe(true);
    expect(config.flowControl.noEndpointRequestTtlMs).toBeUndefined();
    expect(config.flowControl.inflightEviction.enabled).toBe(false);
    expect(notices.some((n) => n.includes('active-request-scorer') && n.includes('inflight-load-scorer'))).toBe(true);
  });

  it('llm-d\'s estimate-mode prefix config: load-aware-scorer keeps its threshold; a non-positive one takes the default with a notice', () => {
    const doc = (threshold: string): string =>
      `${header}plugins:\n- type: single-profile-handler\n- type: decode-filter\n- type: prefix-cache-scorer\n- type: load-aware-scorer\n  parameters: { threshold: ${threshold} }\n- type: max-score-picker\n` +
      'schedulingProfiles:\n- name: default\n  plugins:\n  - pluginRef: decode-filter\n  - pluginRef: prefix-cache-scorer\n    weight: 1.0\n  - pluginRef: load-aware-scorer\n    weight: 1.0\n  - pluginRef: max-score-picker\n';
    expect(translate(doc('100')).config.scheduler.profile).toMatchObject({
      scorers: [
        { type: 'prefix-cache-scorer', weight: 1 },
        { type: 'load-aware-scorer', weight: 1, parameters: { threshold: 100 } },
      ],
    });
    const { config, notices } = translate(doc('0'));
    expect(config.scheduler.profile).toMatchObject({ scorers: [{ type: 'prefix-cache-scorer' }, { type: 'load-aware-scorer', weight: 1 }] });
    expect(JSON.stringify(config.scheduler.profile)).not.toContain('threshold');
    expect(notices.filter((n) => n.includes('threshold 0 is not positive; the default (128) applies'))).toHaveLength(1);
    expect(() => translate(doc('2.5'))).toThrow(/plugins\.3\.parameters\.threshold: must be a whole number/);
  });

  it('Fairway\'s own sections beside an EndpointPickerConfig\'s apply over the translation (TLS, tenants, shared state, fallbacks)', () => {
    const { config } = translate(
      `${header}plugins:\n- type: queue-scorer\n- type: max-score-picker\n` +
        'server: { tls: { mode: self-signed } }\ntenants: { gold: { weight: 3 } }\nsharedState: { backend: redis, url: "redis://r:6379" }\nscheduler: { fallbackEndpoints: 1 }\n',
    );
    expect(config.server.tls.mode).toBe('self-signed');
    expect(config.tenants['gold']?.weight).toBe(3);
    expect(config.sharedState).toMatchObject({ backend: 'redis', url: 'redis://r:6379' });
    // Merged into the translated scheduler section: the file's profile stays.
    expect(config.scheduler.fallbackEndpoints).toBe(1);
    expect(config.scheduler.profile).toMatchObject({ scorers: [{ type: 'queue-scorer', weight: 1 }] });
    expect(() => loadConfig(`${header}plugins: []\nserver: { tls: { mode: sometimes } }\n`, 'f')).toThrow(/server\.tls\.mode/);
  });

  it('the Helm chart\'s default config with an operator\'s EndpointPickerConfig merged in (as helm merges values) loads', () => {
    const values = parseConfigDocument(readFileSync(new URL('../../../deploy/helm/fairway/values.yaml', import.meta.url), 'utf8')) as {
      inferenceExtension: { config: Record<string, unknown> };
    };
    const epp = parseConfigDocument(fixture('llm-d-flow-control.yaml')) as Record<string, unknown>;
    const merged = { ...values.inferenceExtension.config, ...epp };
    const { config, format } = loadConfig(JSON.stringify(merged), 'values');
    expect(format).toBe('endpoint-picker');
    expect(config.server.tls.mode).toBe('self-signed');
  });

  it('llm-d-router\'s optimized baseline (queue 2, kv 2, prefix 3, no-hit-lru 2) translates whole; no-hit-lru-scorer keeps its lruSize', () => {
    const { config } = translate(
      `${header}plugins:\n- type: queue-scorer\n- type: kv-cache-utilization-scorer\n- type: approx-prefix-cache-producer\n  parameters: { maxPrefixTokensToMatch: 100000 }\n` +
        '- type: prefix-cache-scorer\n- type: no-hit-lru-scorer\n  parameters: { prefixPluginName: prefix-cache-scorer, lruSize: 64 }\n' +
        'schedulingProfiles:\n- name: default\n  plugins:\n  - { pluginRef: queue-scorer, weight: 2 }\n  - { pluginRef: kv-cache-utilization-scorer, weight: 2 }\n' +
        '  - { pluginRef: prefix-cache-scorer, weight: 3 }\n  - { pluginRef: no-hit-lru-scorer, weight: 2 }\n',
    );
    expect(config.scheduler.profile).toMatchObject({
      scorers: [
        { type: 'queue-scorer', weight: 2 },
        { type: 'kv-cache-utilization-scorer', weight: 2 },
        { type: 'prefix-cache-scorer', weight: 3 },
        { type: 'no-hit-lru-scorer', weight: 2, parameters: { lruSize: 64 } },
      ],
    });
    expect(config.scheduler.prefix.maxPrefixTokensToMatch).toBe(100_000);
    expect(() => translate(`${header}plugins:\n- type: no-hit-lru-scorer\n  parameters: { lruSize: 0 }\n`)).toThrow(/plugins\.0\.parameters\.lruSize: must be a whole number of endpoints > 0/);
  });

  it('command-line overrides apply over the translated file (a static pool from --endpoints)', () => {
    const { config } = loadConfig(fixture('llm-d-prefix-decode.yaml'), 'x', { pool: { endpoints: [{ host: '10.0.0.1', port: 8000 }] } });
    expect(config.pool.endpoints).toEqual([{ host: '10.0.0.1', port: 8000 }]);
  });
});

describe('EndpointPickerConfig translation: every plug-in type they ship', () => {
  const needs: Readonly<Record<string, Record<string, unknown>>> = {
    'utilization-filter': { conditions: [{ metric: 'waiting-queue', maxValue: 4 }] },
    'priority-holdback-policy': { minCeiling: 0.5 },
  };
  for (const [type, mapping] of PLUGIN_CATALOG) {
    it(`${type}: ${mapping.kind === 'unsupported' ? 'refused naming the nearest equivalent' : 'accepted and the result builds'}`, () => {
      const parameters = needs[type];
      const doc = {
        apiVersion: 'llm-d.ai/v1alpha1',
        kind: 'EndpointPickerConfig',
        plugins: [{ type, ...(parameters !== undefined ? { parameters } : {}) }],
      };
      if (mapping.kind === 'unsupported') {
        expect(() => translateEndpointPickerConfig(doc)).toThrow(new RegExp(`plugins\\.0\\.type: plug-in type "${type}" has no Fairway equivalent; nearest: \\S`));
        return;
      }
      const config = validateConfig(translateEndpointPickerConfig(doc).config);
      const profile = buildProfile(config.scheduler.profile);
      if (mapping.kind === 'scorer') expect(config.scheduler.profile).toMatchObject({ scorers: [{ type: mapping.to }] });
      if (mapping.kind === 'filter') expect(config.scheduler.profile).toMatchObject({ filters: [{ type: mapping.to }] });
      if (mapping.kind === 'picker') expect(config.scheduler.profile).toMatchObject({ picker: { type: mapping.to } });
      if (mapping.kind === 'detector') expect(config.saturation.detector).toBe(mapping.to);
      expect(profile).toBeDefined();
    });
  }
});

describe('EndpointPickerConfig translation: refusals name the field', () => {
  const refused: readonly [string, string, RegExp][] = [
    ['an unknown plug-in type', 'plugins:\n- type: my-scorer\n', /plugins\.0\.type: unknown plug-in type "my-scorer"/],
    ['a reference to no plug-in', 'plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: default\n  plugins:\n  - pluginRef: nope\n', /schedulingProfiles\.0\.plugins\.0\.pluginRef: "nope" names no plug-in in plugins \(defined: queue-scorer\)/],
    ['a plug-in name defined twice', 'plugins:\n- { name: a, type: queue-scorer }\n- { name: a, type: kv-cache-utilization-scorer }\n', /plugins\.1\.name: plug-in name "a" is defined twice/],
    ['two profiles (P/D)', 'plugins:\n- type: queue-scorer\nschedulingProfiles:\n- { name: prefill, plugins: [{ pluginRef: queue-scorer }] }\n- { name: decode, plugins: [{ pluginRef: queue-scorer }] }\n', /schedulingProfiles: 2 profiles \(prefill, decode\)/],
    ['two pickers in one profile', 'plugins:\n- type: random-picker\n- type: max-score-picker\nschedulingProfiles:\n- { name: d, plugins: [{ pluginRef: random-picker }, { pluginRef: max-score-picker }] }\n', /schedulingProfiles\.0\.plugins\.1\.pluginRef: a profile has one picker/],
    ['an unknown feature gate', 'featureGates: [fastPath]\nplugins: []\n', /featureGates\.0: unknown feature gate "fastPath"/],
    ['a malformed gate', 'featureGates: [flowControl=maybe]\nplugins: []\n', /featureGates\.0: must be "name", "name=true" or "name=false"/],
    ['a duration without a unit', 'featureGates: [flowControl]\nplugins: []\nflowControl: { defaultRequestTTL: "90" }\n', /flowControl\.defaultRequestTTL: must be a Go duration/],
    ['a malformed quantity', 'featureGates: [flowControl]\nplugins: []\nflowControl: { maxBytes: 1GB }\n', /flowControl\.maxBytes: must be a non-negative Kubernetes quantity/],
    ['a scorer named as an ordering policy', 'featureGates: [flowControl]\nplugins:\n- type: queue-scorer\nflowControl:\n  priorityBands:\n  - { priority: 1, orderingPolicyRef: queue-scorer }\n', /flowControl\.priorityBands\.0\.orderingPolicyRef: "queue-scorer" is a queue-scorer, not a ordering policy/],
    ['the negative-priority template', 'featureGates: [flowControl]\nplugins: []\nflowControl: { defaultNegativePriorityBand: { maxRequests: 10 } }\n', /flowControl\.defaultNegativePriorityBand: .*nearest: list each negative priority/],
    ['a misspelt field', 'plugins: []\nschedulingProfile: []\n', /schedulingProfile: unknown field in an EndpointPickerConfig/],
    ['a running-requests filter condition', 'plugins:\n- type: utilization-filter\n  parameters: { conditions: [{ metric: running-requests, maxValue: 10 }] }\n', /plugins\.0\.parameters\.conditions\.0\.metric: "running-requests" has no Fairway saturation-filter condition; nearest: a concurrency or hybrid saturation detector/],
    ['a peer-to-peer state syncer', 'plugins: []\ndataLayer: { crossReplicaSyncerPluginRef: local-syncer }\n', /dataLayer\.crossReplicaSyncerPluginRef: .*nearest: sharedState/],
    ['an https metrics source', 'plugins:\n- type: metrics-data-source\n  parameters: { scheme: https }\n', /plugins\.0\.parameters\.scheme: .*nearest: http/],
  ];
  for (const [what, body, message] of refused) {
    it(what, () => {
      expect(() => loadConfig(header + body, 'epp.yaml')).toThrow(message);
      expect(() => loadConfig(header + body, 'epp.yaml')).toThrow(/^epp\.yaml: /);
    });
  }

  it('the Go EPP\'s v0.5 plug-ins: its legacy filter tree is refused by name with the nearest equivalent, kv-cache-scorer is the KV scorer\'s old name', () => {
    for (const type of ['decision-tree-filter', 'low-queue-filter', 'least-queue-filter', 'least-kv-cache-filter', 'lora-affinity-filter']) {
      expect(() => loadConfig(`${header}plugins:\n- type: ${type}\n`, 'f')).toThrow(new RegExp(`plug-in type "${type}" has no Fairway equivalent; nearest: \\S`));
    }
    const { config } = translate(`${header}plugins:\n- type: kv-cache-scorer\n- type: max-score-picker\n`);
    expect(config.scheduler.profile).toMatchObject({ scorers: [{ type: 'kv-cache-utilization-scorer', weight: 1 }] });
  });

  it('an apiVersion of neither project', () => {
    expect(() => loadConfig('apiVersion: v1\nkind: EndpointPickerConfig\nplugins: []\n', 'f')).toThrow(/apiVersion: must be one of inference\.networking\.x-k8s\.io\/v1alpha1, llm-d\.ai\/v1alpha1/);
  });

  it('a plain Fairway file is not translated', () => {
    const loaded = loadConfig('objectives: { chat: 1 }\n');
    expect(loaded.format).toBe('fairway');
    expect(parseConfigDocument('kind: Other\n')).toEqual({ kind: 'Other' });
  });

  it('"0s" TTL (never expire) becomes the longest TTL Fairway can hold, with a notice', () => {
    const { config, notices } = loadConfig(`${header}featureGates: [flowControl]\nplugins: []\nflowControl: { defaultRequestTTL: 0s }\n`);
    expect(config.flowControl.defaultTtlMs).toBe(2_147_483_647);
    expect(notices.some((n) => n.includes('defaultRequestTTL: 0s'))).toBe(true);
  });

  it('noEndpointRequestTTL: the waiting room\'s budget; with neither TTL set, llm-d\'s 60 s', () => {
    const own = loadConfig(`${header}featureGates: [flowControl]\nplugins: []\nflowControl: { defaultRequestTTL: 10s, noEndpointRequestTTL: 5m }\n`).config;
    expect(own.flowControl.defaultTtlMs).toBe(10_000);
    expect(own.flowControl.noEndpointRequestTtlMs).toBe(300_000);
    expect(loadConfig(`${header}featureGates: [flowControl]\nplugins: []\n`).config.flowControl.noEndpointRequestTtlMs).toBe(60_000);
  });

  it('gates the projects register that change nothing here (llm-d\'s enableLegacyMetrics, the Go EPP\'s prepareDataPlugins, dataLayer) are accepted with a notice each', () => {
    const plain = loadConfig(`${header}featureGates: [flowControl]\nplugins: []\n`).config;
    const { config, notices } = loadConfig(`${header}featureGates: [flowControl, enableLegacyMetrics, prepareDataPlugins=true, dataLayer]\nplugins: []\n`);
    expect(config).toEqual(plain);
    for (const [i, gate] of ['enableLegacyMetrics', 'prepareDataPlugins=true', 'dataLayer'].entries()) {
      expect(notices.filter((n) => n.startsWith(`featureGates.${i + 1} (${gate}): accepted; it changes nothing in Fairway`))).toHaveLength(1);
    }
    expect(notices.some((n) => n.startsWith('featureGates.0'))).toBe(false);
  });
});

describe('priority-holdback in llm-d\'s form (minCeiling..maxCeiling, evenly by rank)', () => {
  it('spreads ceilings from maxCeiling at the top to minCeiling at the bottom, capped by a band\'s own ceiling', () => {
    const policy = priorityHoldback({ minCeiling: 0.4, maxCeiling: 1 });
    const bands = [10, 0, -1, -5].map((priority) => ({ priority, configuredCeiling: priority === -1 ? 0.5 : undefined }));
    const c = policy.ceilings(bands);
    expect(c[0]).toBeCloseTo(1);
    expect(c[1]).toBeCloseTo(0.8);
    expect(c[2]).toBeCloseTo(0.5);
    expect(c[3]).toBeCloseTo(0.4);
    expect(policy.ceilings([{ priority: 0, configuredCeiling: undefined }])).toEqual([1]);
    expect(() => priorityHoldback({ minCeiling: 0.9, maxCeiling: 0.5 })).toThrow(/maxCeiling/);
  });
});
