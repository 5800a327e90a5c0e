// Several Fairway replicas in front of one simulated pool, in virtual time: each replica has its own flow
// controller, hybrid detector, scheduler and in-flight ledger, as separate processes would. `shared` replicas
// sync through the shared-state exchange (an in-memory hub with the Redis transport's semantics, a sync interval
// and a round-trip latency on the same virtual clock); `independent` replicas share nothing; `one-process` is a
// single replica taking all the traffic. Every replica sees the pool's scrapes (as with scrape sharing).
import { ManualClock } from '../../src/core/index.js';
import { CombinedInflight, InflightTracker, type ScrapeListener } from '../../src/datalayer/index.js';
import { FlowController } from '../../src/flowcontrol/index.js';
import { HybridDetector } from '../../src/saturation/index.js';
import { DEFAULT_PROFILE_CONFIG, Scheduler, buildProfile } from '../../src/scheduler/index.js';
import { FairnessChannel, InflightChannel, MemoryHub, SharedStateExchange } from '../../src/sharedstate/index.js';
import { CI_PROFILE } from '../../src/simulator/index.js';
import { SeededRandom } from '../../src/core/index.js';
import { SimGateway } from './gateway.js';
import { Recorder } from './recorder.js';
import { type RunInput, type RunOutput, WARMUP_MS } from './run-system.js';
import { SimPool } from './sim-pool.js';
import { type GatewaySystem } from './systems.js';
import { type PlannedRequest } from './traffic.js';
import { runUntil } from './virtual-loop.js';

export const REPLICA_MODES = ['shared', 'independent', 'one-process'] as const;
export type ReplicaMode = (typeof REPLICA_MODES)[number];

/** A single system's run input (pods, seed, traffic, settings) plus how the replicas are set up. */
export interface ReplicaRunInput extends Omit<RunInput, 'system' | 'metricsOutageMs'> {
  readonly mode: ReplicaMode;
  readonly replicas: number;
  /** Which replica a request reaches (ignored in one-process mode). */
  readonly route: (r: PlannedRequest) => number;
  readonly syncIntervalMs: number;
  readonly latencyMs: number;
  /** The shared store is unreachable during [fromMs, toMs) of traffic time (shared mode). */
  readonly outage?: { readonly fromMs: number; readonly toMs: number };
}

export interface ReplicaRunOutput extends RunOutput {
  readonly mode: ReplicaMode;
  /** Requests that never reached an outcome (lost). */
  readonly lost: number;
  /** Dispatches per replica. */
  readonly perReplica: readonly number[];
  /** Shared mode: sync rounds that failed (the outage). */
  readonly failedRounds: number;
}

interface Replica {
  readonly system: GatewaySystem;
  readonly gateway: SimGateway;
  readonly exchange: SharedStateExchange | undefined;
  readonly tracker: InflightTracker;
}

export async function runReplicas(input: ReplicaRunInput): Promise<ReplicaRunOutput> {
  const wallStart = performance.now();
  const clock = new ManualClock(0);
  const recorder = new Recorder(input.tenants);
  const pool = new SimPool({ clock, pods: input.pods, seed: input.seed, onAdmit: (id, t) => recorder.stopWaiting(id, t) });
  const hub = new MemoryHub(clock);
  hub.latencyMs = input.latencyMs;
  const count = input.mode === 'one-process' ? 1 : input.replicas;
  const perReplica = new Array<number>(count).fill(0);
  const replicas: Replica[] = [];
  const scrapeListeners: ScrapeListener[] = [];
  for (let i = 0; i < count; i++) {
    const tracker = new InflightTracker({ clock });
    let view: InflightTracker | CombinedInflight = tracker;
    let exchange: SharedStateExchange | undefined;
    let fairness: FairnessChannel | undefined;
    scrapeListeners.push(tracker);
    if (input.mode === 'shared') {
      exchange = new SharedStateExchange({ transport: hub.transport(), origin: `replica-${i}`, clock, syncIntervalMs: input.syncIntervalMs });
      fairness = new FairnessChannel();
      const channel = new InflightChannel({ local: tracker, endpoints: () => pool.members.map((m) => m.id), time: exchange, clock });
      exchange.register(fairness);
      exchange.register(channel);
      scrapeListeners.push(channel);
      view = new CombinedInflight(tracker, channel);
    }
    const detector = new HybridDetector({ pool: pool.store, inflight: view, clock }, { maxRequests: CI_PROFILE.maxNumSeqs });
    const flow = new FlowController({
      saturation: detector,
      clock,
      bands: input.settings.bands.map((b) => ({ fairness: 'weighted-fair', ...b })),
      bandTemplate: { fairness: 'weighted-fair', ...input.settings.bandTemplate },
      tenantWeights: input.settings.tenantWeights,
      fairnessExchange: fairness,
    });
    const system: GatewaySystem = {
      name: 'fairway',
      scheduler: new Scheduler({ profile: buildProfile(DEFAULT_PROFILE_CONFIG), random: new SeededRandom(input.seed + 101 + i), saturation: detector }),
      flow,
      gate: undefined,
      inflight: view,
      close: () => {
        void flow.close();
        detector.close();
      },
    };
    const replica = i;
    const gateway = new SimGateway(clock, pool, system, recorder, () => {
      perReplica[replica] = (perReplica[replica] ?? 0) + 1;
    });
    replicas.push({ system, gateway, exchange, tracker });
  }
  pool.scrapeListeners = scrapeListeners;
  for (const r of replicas) r.exchange?.start();
  pool.startScraping();
  if (input.outage !== undefined && input.mode === 'shared') {
    clock.setTimeout(() => hub.setReachable(false), WARMUP_MS + input.outage.fromMs);
    clock.setTimeout(() => hub.setReachable(true), WARMUP_MS + input.outage.toMs);
  }
  let sent = 0;
  let lastArrival = 0;
  let longestTimeout = 0;
  for (const r of input.requests) {
    lastArrival = Math.max(lastArrival, r.arrivalMs);
    longestTimeout = Math.max(longestTimeout, r.clientTimeoutMs);
    const target = replicas[count === 1 ? 0 : input.route(r) % count] as Replica;
    clock.setTimeout(() => {
      sent++;
      void target.gateway.send(r);
    }, WARMUP_MS + r.arrivalMs);
  }
  const total = input.requests.length;
  const hardEnd = WARMUP_MS + lastArrival + longestTimeout + 5_000;
  const endMs = await runUntil(clock, hardEnd, () => sent === total && recorder.pending === 0);
  const failedRounds = replicas.reduce((s, r) => s + (r.exchange?.stats().failedRounds ?? 0), 0);
  for (const r of replicas) {
    r.system.close();
    void r.exchange?.close();
  }
  pool.close();
  return {
    system: 'fairway',
    mode: input.mode,
    recorder,
    startMs: WARMUP_MS,
    endMs,
    wallMs: performance.now() - wallStart,
    tickDispatches: undefined,
    lost: recorder.pending,
    perReplica,
    failedRounds,
  };
}
