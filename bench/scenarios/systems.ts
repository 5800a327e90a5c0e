// The three systems every scenario runs, built from the production components over one simulated pool:
// fairway (hybrid detector, weighted-fair, holdback), no-flow-control, and go-defaults (Go reference defaults).
import { type ManualClock, SeededRandom } from '../../src/core/index.js';
import { type BandConfig, FlowController } from '../../src/flowcontrol/index.js';
import { HybridDetector, UtilizationDetector } from '../../src/saturation/index.js';
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
  begin(endpointId: string, estimatedTokens: number): InflightTicket;
  end(ticket: InflightTicket): boolean;
}

export const SYSTEMS = ['fairway', 'no-flow-control', 'go-defaults'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** Operator settings shared by both flow-controlled systems (capacity, TTL); fairness and limits differ. */
export interface FlowSettings {
  readonly bands: readonly BandConfig[];
  readonly tenantWeights?: Readonly<Record<string, number>>;
  /** Use priority-holdback in fairway (where priorities matter). */
  readonly priorityHoldback?: boolean;
  /** Template for bands not listed (same capacity/TTL fields). */
  readonly bandTemplate?: Omit<BandConfig, 'priority' | 'name'>;
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
  maxRequestsPerEndpoint: number,
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
      const detector = new HybridDetector(deps, { maxRequests: maxRequestsPerEndpoint });
      const flow = new FlowController({
        saturation: detector,
        clock,
        bands: settings.bands.map((b) => ({ fairness: 'weighted-fair', ...b })),
        bandTemplate: { fairness: 'weighted-fair', ...settings.bandTemplate },
        tenantWeights: settings.tenantWeights,
        usageLimit: settings.priorityHoldback === true ? { name: 'priority-holdback' } : { name: 'static' },
      });
      return {
        name,
        // As the server wires it: the headroom filter follows the detector's per-endpoint view.
        scheduler: new Scheduler({ profile: buildProfile(DEFAULT_PROFILE_CONFIG), random, saturation: detector }),
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
