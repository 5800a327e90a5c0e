// The simulated pool in virtual time: N SimEngines, the PoolStore and InflightTracker the production components
// read, and a virtual scraper copying each engine's stats into the store every scrape interval.
import { type ManualClock, SeededRandom, type TimerHandle } from '../../src/core/index.js';
import { type EndpointMetrics, InflightTracker, PoolStore, type ScrapeListener } from '../../src/datalayer/index.js';
import { CI_PROFILE, SimEngine, type SimProfile } from '../../src/simulator/index.js';

export const SCRAPE_INTERVAL_MS = 50;

export interface PoolMember {
  readonly id: string;
  readonly engine: SimEngine;
}

export interface SimPoolOptions {
  readonly clock: ManualClock;
  readonly pods: number;
  readonly seed: number;
  /** @default CI_PROFILE */
  readonly profile?: SimProfile;
  /** Called when an engine first admits a request into its batch (leaves the engine's waiting queue). */
  readonly onAdmit?: (requestId: string, t: number) => void;
}

export class SimPool {
  readonly store: PoolStore;
  readonly inflight: InflightTracker;
  readonly members: readonly PoolMember[];
  /** Told of every scrape (several replicas' ledgers); the pool's own ledger by default. */
  scrapeListeners: readonly ScrapeListener[];
  private readonly byId = new Map<string, SimEngine>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly clock: ManualClock;

  constructor(options: SimPoolOptions) {
    this.clock = options.clock;
    this.store = new PoolStore({ clock: this.clock });
    this.inflight = new InflightTracker({ clock: this.clock });
    this.scrapeListeners = [this.inflight];
    const profile = options.profile ?? CI_PROFILE;
    const members: PoolMember[] = [];
    for (let i = 0; i < options.pods; i++) {
      const engine = new SimEngine({ profile, clock: this.clock, random: new SeededRandom(options.seed + i), timeScale: 1 });
      const id = this.store.upsert({ host: `pod-${i}`, port: 8000 });
      const onAdmit = options.onAdmit;
      if (onAdmit !== undefined) {
        engine.observe((e) => {
          if (e.kind === 'admit' && !e.resumed) onAdmit(e.id, e.t);
        });
      }
      members.push({ id, engine });
      this.byId.set(id, engine);
    }
    this.members = members;
  }

  engine(id: string): SimEngine {
    const e = this.byId.get(id);
    if (e === undefined) throw new Error(`unknown endpoint ${id}`);
    return e;
  }

  /** Starts the scrapers, staggered over one interval by the golden ratio as PoolMonitor does. */
  startScraping(): void {
    this.members.forEach((m, index) => {
      if (this.timers.has(m.id)) return;
      this.schedule(m, ((index * 0.618_033_988_75) % 1) * SCRAPE_INTERVAL_MS);
    });
  }

  stopScraping(): void {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }

  close(): void {
    this.stopScraping();
    this.store.close();
    for (const m of this.members) m.engine.close();
  }

  private schedule(m: PoolMember, delayMs: number): void {
    this.timers.set(
      m.id,
      this.clock.setTimeout(() => {
        this.scrape(m);
        this.schedule(m, SCRAPE_INTERVAL_MS);
      }, delayMs),
    );
  }

  /** Same order as PoolMonitor.apply: the in-flight tracker learns of the scrape, then the snapshot is published. */
  private scrape(m: PoolMember): void {
    const s = m.engine.stats();
    const p = m.engine.profile;
    const metrics: EndpointMetrics = {
      waitingQueue: s.waiting,
      runningRequests: s.running,
      kvCacheUsage: s.kvUsage,
      loraRunning: [],
      loraWaiting: [],
      maxLora: 0,
      kvBlockSize: p.blockSize,
      kvNumBlocks: p.numBlocks,
    };
    const now = this.clock.now();
    for (const l of this.scrapeListeners) l.markScraped(m.id, now);
    this.store.recordMetrics(m.id, metrics, now);
  }
}
