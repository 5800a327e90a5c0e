// Test support: replays an arrival trace against a SimEngine in virtual time and collects per-request timings.
import { ManualClock, SeededRandom } from '../../../src/core/index.js';
import { type EngineEvent, type RequestResult, SimEngine, type SimEngineOptions, type SimProfile } from '../../../src/simulator/index.js';

export interface TraceRequest {
  readonly at: number;
  readonly promptTokens: number;
  /** Exact output length, or with `natural` the max_tokens cap of a seeded length. */
  readonly outputTokens: number;
  readonly natural?: boolean;
  readonly tenant?: string;
  readonly blockHashes?: readonly number[];
  readonly priority?: number;
  /** Aborts the request this many ms after it arrives. */
  readonly abortAfter?: number;
}

export interface TraceOutcome {
  readonly request: TraceRequest;
  readonly waitingAtArrival: number;
  readonly ttft: number;
  readonly itls: number[];
  readonly result: RequestResult;
}

export interface TraceRun {
  readonly engine: SimEngine;
  readonly clock: ManualClock;
  readonly outcomes: TraceOutcome[];
  readonly events: EngineEvent[];
}

export function runTrace(
  profile: SimProfile,
  trace: readonly TraceRequest[],
  options: Partial<SimEngineOptions> & { seed?: number; onStep?: (engine: SimEngine) => void } = {},
): TraceRun {
  const clock = new ManualClock();
  const engine = new SimEngine({ profile, clock, random: new SeededRandom(options.seed ?? 1), ...options });
  const events: EngineEvent[] = [];
  engine.observe((e) => {
    events.push(e);
    if (e.kind === 'step') options.onStep?.(engine);
  });
  const outcomes: TraceOutcome[] = [];
  for (const request of trace) {
    clock.setTimeout(() => {
      const waitingAtArrival = engine.stats().waiting;
      const itls: number[] = [];
      let ttft = Number.NaN;
      let last = 0;
      const id = engine.submit(
        {
          promptTokens: request.promptTokens,
          outputTokens: request.natural === true ? undefined : request.outputTokens,
          maxTokens: request.outputTokens,
          blockHashes: request.blockHashes,
          priority: request.priority,
        },
        {
          onToken: (index, t) => {
            if (index === 0) ttft = t - request.at;
            else itls.push(t - last);
            last = t;
          },
          onFinish: (result) => outcomes.push({ request, waitingAtArrival, ttft, itls, result }),
        },
      );
      if (request.abortAfter !== undefined) clock.setTimeout(() => engine.abort(id), request.abortAfter);
    }, request.at);
  }
  clock.runAll(10_000_000);
  return { engine, clock, outcomes, events };
}

/** Evenly spaced arrivals at `rate` per second for `durationMs`. */
export function steadyTrace(rate: number, durationMs: number, promptTokens: number, outputTokens: number, tenant = 'a'): TraceRequest[] {
  const out: TraceRequest[] = [];
  for (let t = 0; t < durationMs; t += 1000 / rate) out.push({ at: t, promptTokens, outputTokens, tenant });
  return out;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}
