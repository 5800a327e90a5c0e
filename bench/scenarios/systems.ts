// The three systems every scenario runs, built from the production components over one simulated pool:
// fairway (the shipped default configuration plus the scenario's bands and tenant weights, built as the server
// builds it), no-flow-control, and go-defaults (Go reference defaults).
import { type FairwayConfig, type FairwayConfigInput, validateConfig } from '../../src/config/index.js';
import { type ManualClock, SeededRandom } from '../../src/core/index.js';
import { type BandConfig, FlowController } from '../../src/flowcontrol/index.js';
import { UtilizationDetector, createSaturationDetectorRegistry } from '../../src/saturation/index.js';
import { flowControlOptions } from '../../src/server/live-config.js';
import {
  DEFAULT_PROFILE_CONFIG,
  KV_CACHE_SCORER,
  MAX_SCORE_PICKER,
  PREFIX_CACHE_SCORER,
  QUEUE_SCORER,
  Scheduler,
  buildProfile,
} from '../../src/scheduler/index.js';
import { type InflightTicket, type InflightView } from '../../src/datalayer/index.js';
import { type SimPool } from './sim-pool.js';
import { TickGate } from './tick-gate.js';

/** What the simulated gateway needs of an in-flight ledger. */
export interface InflightPort extends InflightView {
  begin(endpointId: string, estimatedTokens: number, unstartedTokens?: number): InflightTicket;
  started(ticket: InflightTicket): boolean;
  end(ticket: InflightTicket): boolean;
}

export const SYSTEMS = ['fairway', 'no-flow-control', 'go-defaults'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/**
 * What an operator declares for the scenario's traffic, shared by both flow-controlled systems: its bands
 * (priority, name, queue capacity, TTL) and tenant weights. Everything else in fairway is the shipped default.
 */
export interface FlowSettings {
  readonly bands: readonly BandConfig[];
  readonly tenantWeights?: Readonly<Record<string, number>>;
  /** Template for bands not listed (same capacity/TTL fields). */
  readonly bandTemplate?: Omit<BandConfig, 'priority' | 'name'>;
  /**
   * Diagnosis runs only: configuration changed from the shipped defaults (merged over the config document, one
   * level deep per section). The systems compared in a scenario never set it.
   */
  readonly configOverrides?: FairwayConfigInput;
}

/** The configuration the fairway system runs: the shipped defaults, the scenario's bands and weights, overrides. */
export function fairwayConfig(settings: FlowSettings): FairwayConfig {
  const o = settings.configOverrides ?? {};
  return validateConfig({
    ...o,
    flowControl: { bands: settings.bands, bandTemplate: settings.bandTemplate ?? {}, ...o.flowControl },
    tenants: { ...Object.fromEntries(Object.entries(settings.tenantWeights ?? {}).map(([t, weight]) => [t, { weight }])), ...o.tenants },
  });
}

export interface GatewaySystem {
  readonly name: SystemName;
  readonly scheduler: Scheduler;
  readonly flow: FlowController | undefined;
  readonly gate: TickGate | undefined;
  /** The system's own in-flight ledger (replicas each have one); the pool's by default. */
  readonly inflight?: InflightPort;
  close(): void;
}

/** Go's default scheduler profile: queue x2, KV cache x2, prefix x3, max-score; no filter, no in-flight term. */
export const GO_PROFILE_CONFIG = {
  filters: [],
  scorers: [
    { type: QUEUE_SCORER, weight: 2 },
    { type: KV_CACHE_SCORER, weight: 2 },
    { type: PREFIX_CACHE_SCORER, weight: 3 },
  ],
  picker: { type: MAX_SCORE_PICKER },
};

export function buildSystem(
  name: SystemName,
  pool: SimPool,
  clock: ManualClock,
  seed: number,
  settings: FlowSettings,
): GatewaySystem {
  const random = new SeededRandom(seed + 101);
  const deps = { pool: pool.store, inflight: pool.inflight, clock };
  switch (name) {
    case 'no-flow-control':
      return {
        name,
        scheduler: new Scheduler({ profile: buildProfile(DEFAULT_PROFILE_CONFIG), random }),
        flow: undefined,
        gate: undefined,
        close: () => undefined,
      };
    case 'fairway': {
      // As FairwayServer builds it: the configured detector over the pool's staleness limit, flow control from
      // the flowControl section, the scheduler's headroom filter following the detector's per-endpoint view.
      const config = fairwayConfig(settings);
      const detector = createSaturationDetectorRegistry().get(config.saturation.detector)(
        { ...deps, stalenessMs: config.pool.metrics.stalenessMs },
        config.saturation.options,
      );
      const flow = new FlowController({ saturation: detector, clock, ...flowControlOptions(config) });
      return {
        name,
        scheduler: new Scheduler({ profile: buildProfile(config.scheduler.profile ?? DEFAULT_PROFILE_CONFIG), random, saturation: detector }),
        flow,
        gate: undefined,
        close: () => {
          void flow.close();
          detector.close();
        },
      };
    }
    case 'go-defaults': {
      const detector = new UtilizationDetector(deps, { aggregation: 'mean', queueThreshold: 5, kvThreshold: 0.8 });
      const gate = new TickGate(detector, clock);
      const flow = new FlowController({
        saturation: gate,
        clock,
        // The Go reference turns newcomers away when a band is full.
        bands: settings.bands.map((b) => ({ ...b, fairness: 'global-strict', overflow: 'reject' as const })),
        bandTemplate: { ...settings.bandTemplate, fairness: 'global-strict', overflow: 'reject' },
        usageLimit: { name: 'static' },
        // The Go EPP had eviction code but never wired it, and keeps no reserve for light tenants.
        inflightEviction: { enabled: false },
        tenantReserve: 0,
      });
      return {
        name,
        scheduler: new Scheduler({ profile: buildProfile(GO_PROFILE_CONFIG), random }),
        flow,
        gate,
        close: () => {
          void flow.close();
          gate.close();
          detector.close();
        },
      };
    }
  }
}
