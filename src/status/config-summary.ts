// The configuration as an operator reads it on the status page: the policies, limits and thresholds in force,
// with defaults filled in and unlimited values as null. Pure: built from the validated config.
import { type FairwayConfig } from '../config/index.js';
import {
  DEFAULT_BAND_MAX_BYTES,
  DEFAULT_BAND_MAX_REQUESTS,
  DEFAULT_BAND_OVERFLOW,
  DEFAULT_FAIRNESS,
  DEFAULT_ORDERING,
} from '../flowcontrol/index.js';
import { type BandConfigSummary, type ConfigSummary } from './snapshot.js';

type BandInput = FairwayConfig['flowControl']['bandTemplate'];

function finiteOrNull(x: number | undefined): number | null {
  return x === undefined || !Number.isFinite(x) ? null : x;
}

function bandSummary(b: BandInput, template: BandInput): Omit<BandConfigSummary, 'priority' | 'name'> {
  return {
    fairness: b.fairness ?? template.fairness ?? DEFAULT_FAIRNESS,
    ordering: b.ordering ?? template.ordering ?? DEFAULT_ORDERING,
    maxRequests: finiteOrNull(b.maxRequests ?? template.maxRequests ?? DEFAULT_BAND_MAX_REQUESTS),
    maxBytes: finiteOrNull(b.maxBytes ?? template.maxBytes ?? DEFAULT_BAND_MAX_BYTES),
    ttlMs: finiteOrNull(b.ttlMs ?? template.ttlMs),
    ceiling: finiteOrNull(b.ceiling ?? template.ceiling),
    overflow: b.overflow ?? template.overflow ?? DEFAULT_BAND_OVERFLOW,
  };
}

/** "queue-scorer x2, kv-cache-scorer x2 | max-score-picker": the plug-ins of a scheduler profile, read generically. */
export function describeProfile(profile: unknown): string {
  if (typeof profile !== 'object' || profile === null) return 'default';
  const p = profile as { filters?: unknown; scorers?: unknown; picker?: unknown };
  const typeOf = (x: unknown): string =>
    typeof x === 'object' && x !== null && typeof (x as { type?: unknown }).type === 'string' ? (x as { type: string }).type : '?';
  const list = (xs: unknown, withWeight: boolean): string[] =>
    Array.isArray(xs)
      ? xs.map((x: unknown) => {
          const weight = (x as { weight?: unknown }).weight;
          return withWeight && typeof weight === 'number' ? `${typeOf(x)} x${weight}` : typeOf(x);
        })
      : [];
  return [list(p.filters, false).join(', '), list(p.scorers, true).join(', '), typeOf(p.picker)].filter((s) => s !== '').join(' | ');
}

export interface ConfigSummaryExtras {
  /** The detector's effective settings (`SaturationDetector.settings()`). */
  readonly detectorSettings: Readonly<Record<string, number | string>>;
  /** The scheduler profile in force (the default one when the config has none). */
  readonly schedulerProfile: unknown;
  readonly tenantNames: 'plain' | 'hashed';
}

export function summarizeConfig(config: FairwayConfig, extras: ConfigSummaryExtras): ConfigSummary {
  const fc = config.flowControl;
  const template = fc.bandTemplate;
  return {
    detector: config.saturation.detector,
    detectorSettings: extras.detectorSettings,
    scrapeIntervalMs: config.pool.metrics.intervalMs,
    stalenessMs: config.pool.metrics.stalenessMs,
    arbitration: { name: fc.arbitration.name, params: fc.arbitration.params ?? {} },
    usageLimit: { name: fc.usageLimit.name, params: fc.usageLimit.params ?? {} },
    defaultTtlMs: fc.defaultTtlMs,
    maxQueuedRequests: finiteOrNull(fc.maxQueuedRequests),
    maxQueuedBytes: finiteOrNull(fc.maxQueuedBytes),
    maxFlows: fc.maxFlows,
    bands: fc.bands.map((b) => ({ priority: b.priority, name: b.name ?? `priority-${b.priority}`, ...bandSummary(b, template) })),
    bandTemplate: bandSummary(template, {}),
    objectives: config.objectives,
    tenantsConfigured: Object.keys(config.tenants).length,
    trustMode: config.trust.mode,
    schedulerProfile: describeProfile(extras.schedulerProfile),
    tenantNames: extras.tenantNames,
  };
}
