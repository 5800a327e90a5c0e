// Scenario traffic: seeded Poisson arrivals (or one-instant bursts) per class, with prompts of given token
// lengths (4 characters per token) hashed once for the scheduler and the simulated prefix cache.
import { type Random, SeededRandom } from '../../src/core/index.js';
import { makePrompt, nextGapMs } from '../../src/loadgen/index.js';
import { type PrefixHasher } from '../../src/scheduler/index.js';
import { textBlockHashes } from '../../src/simulator/index.js';

export const MODEL = 'sim-model';
const ENGINE_BLOCK_SIZE = 16;

export interface TrafficClass {
  /** Row label in reports. */
  readonly name: string;
  /** Fairness id (tenant). */
  readonly tenant: string;
  /** Flow-control priority: higher first; negative is sheddable. */
  readonly priority: number;
  /** Poisson rate while active; ignored when `burst` is set. */
  readonly ratePerSecond: number;
  readonly promptTokens: number;
  /** max_tokens of every request; actual outputs are drawn uniformly in [maxTokens/2, maxTokens]. */
  readonly maxTokens: number;
  /** Active window, ms from the start of traffic. @default the scenario's whole duration */
  readonly startMs?: number;
  readonly stopMs?: number;
  /** Instead of Poisson: this many requests at `startMs` exactly. */
  readonly burst?: number;
  /** Tokens shared by every prompt of the class (a system prompt). @default 0 */
  readonly sharedPrefixTokens?: number;
  /** The client gives up (aborts) after this long. */
  readonly clientTimeoutMs: number;
}

export interface PlannedRequest {
  readonly id: string;
  readonly cls: string;
  readonly tenant: string;
  readonly priority: number;
  readonly arrivalMs: number;
  readonly promptTokens: number;
  readonly promptChars: number;
  readonly maxTokens: number;
  readonly outputTokens: number;
  readonly clientTimeoutMs: number;
  /** Prefix hashes as the gateway computes them (createPrefixHasher). */
  readonly schedulerHashes: Float64Array;
  /** Block hashes as the simulated engine's prefix cache sees them. */
  readonly blockHashes: readonly number[];
}

/** Every request of every class, sorted by arrival; identical for a given seed whatever system replays it. */
export function planTraffic(
  classes: readonly TrafficClass[],
  durationMs: number,
  seed: number,
  hasher: PrefixHasher,
): PlannedRequest[] {
  const out: PlannedRequest[] = [];
  classes.forEach((c, ci) => {
    const random = new SeededRandom(seed * 1_000 + ci + 1);
    const prefix = makePrompt(new SeededRandom(ci + 7), c.sharedPrefixTokens ?? 0, '').slice(0, (c.sharedPrefixTokens ?? 0) * 4);
    const start = c.startMs ?? 0;
    const stop = Math.min(c.stopMs ?? durationMs, durationMs);
    const times: number[] = [];
    if (c.burst !== undefined) {
      for (let i = 0; i < c.burst; i++) times.push(start);
    } else {
      for (let t = start + nextGapMs(random, c.ratePerSecond); t < stop; t += nextGapMs(random, c.ratePerSecond)) times.push(t);
    }
    times.forEach((t, i) => out.push(plan(c, `${c.name}-${i}`, t, random, prefix, hasher)));
  });
  return out.sort((a, b) => a.arrivalMs - b.arrivalMs || a.id.localeCompare(b.id));
}

function plan(c: TrafficClass, id: string, arrivalMs: number, random: Random, prefix: string, hasher: PrefixHasher): PlannedRequest {
  const text = makePrompt(random, c.promptTokens, prefix ? `${prefix} ` : '');
  const half = Math.ceil(c.maxTokens / 2);
  const outputTokens = half + Math.floor(random.next() * (c.maxTokens - half + 1));
  return {
    id,
    cls: c.name,
    tenant: c.tenant,
    priority: c.priority,
    arrivalMs,
    promptTokens: Math.ceil(text.length / 4),
    promptChars: text.length,
    maxTokens: c.maxTokens,
    outputTokens,
    clientTimeoutMs: c.clientTimeoutMs,
    schedulerHashes: hasher.hashText(text, MODEL),
    blockHashes: textBlockHashes(text, ENGINE_BLOCK_SIZE, MODEL),
  };
}
