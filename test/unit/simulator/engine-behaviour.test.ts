// The behaviours the simulator must reproduce (simulator.md), checked in virtual time on the ci profile.
import { describe, expect, it } from 'vitest';
import { ManualClock, SeededRandom } from '../../../src/core/index.js';
import { CI_PROFILE, type EngineEvent, SimEngine, type SimProfile } from '../../../src/simulator/index.js';
import { type TraceRequest, mean, runTrace, steadyTrace } from './trace.js';

/** Least-squares fit y = a + b x with its coefficient of determination. */
function linearFit(points: readonly (readonly [number, number])[]): { slope: number; r2: number } {
  const n = points.length;
  const mx = mean(points.map((p) => p[0]));
  const my = mean(points.map((p) => p[1]));
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  expect(n).toBeGreaterThan(2);
  return { slope: sxy / sxx, r2: (sxy * sxy) / (sxx * syy) };
}

function firstStep(events: readonly EngineEvent[], pred: (e: Extract<EngineEvent, { kind: 'step' }>) => boolean): number {
  for (const e of events) if (e.kind === 'step' && pred(e)) return e.t;
  return Number.POSITIVE_INFINITY;
}

describe('SimEngine behaviour (ci profile, virtual time)', () => {
  it('keeps TTFT flat below capacity and raises it linearly with the waiting queue above capacity', () => {
    const below = [5, 10, 20].map((rate) => {
      const run = runTrace(CI_PROFILE, steadyTrace(rate, 10_000, 512, 128));
      expect(Math.max(...run.outcomes.map((o) => o.waitingAtArrival))).toBe(0);
      return mean(run.outcomes.map((o) => o.ttft));
    });
    // Flat: within 30% of each other, and a couple of steps at most (a 512-token prefill step is ~16 ms).
    expect(Math.max(...below) / Math.min(...below)).toBeLessThan(1.3);
    expect(Math.max(...below)).toBeLessThan(30);

    const above = runTrace(CI_PROFILE, steadyTrace(40, 10_000, 512, 128));
    const queued = above.outcomes.filter((o) => o.waitingAtArrival > 0);
    expect(queued.length).toBeGreaterThan(100);
    const fit = linearFit(queued.map((o) => [o.waitingAtArrival, o.ttft] as const));
    expect(fit.r2).toBeGreaterThan(0.95);
    // Each request ahead costs about one service time: 1 / (~26 req/s) = ~38 ms.
    expect(fit.slope).toBeGreaterThan(25);
    expect(fit.slope).toBeLessThan(60);
  });

  it('saturates at roughly 25 req/s with 512-token prompts and 128-token outputs', () => {
    const run = runTrace(CI_PROFILE, steadyTrace(60, 10_000, 512, 128));
    const lastFinish = Math.max(...run.outcomes.map((o) => o.result.finishMs));
    const throughput = (run.outcomes.length / lastFinish) * 1000;
    expect(throughput).toBeGreaterThan(20);
    expect(throughput).toBeLessThan(32);
  });

  it('lets KV usage cross 0.8 before the waiting queue passes 5 on long prompts, then preempts', () => {
    const run = runTrace(CI_PROFILE, steadyTrace(15, 15_000, 1024, 256));
    const total = CI_PROFILE.numBlocks;
    const kvHigh = firstStep(run.events, (e) => e.usedBlocks / total >= 0.8);
    const queueHigh = firstStep(run.events, (e) => e.waiting > 5);
    expect(kvHigh).toBeLessThan(Number.POSITIVE_INFINITY);
    expect(queueHigh).toBeLessThan(Number.POSITIVE_INFINITY);
    expect(kvHigh).toBeLessThan(queueHigh);
    // KV-bound, not slot-bound: the batch never filled its 32 sequences.
    const maxRunning = Math.max(...run.events.map((e) => (e.kind === 'step' ? e.running : 0)));
    expect(maxRunning).toBeLessThan(CI_PROFILE.maxNumSeqs);
  });

  it('preempts the most recently admitted request when decode runs out of blocks, and still completes it', () => {
    const run = runTrace(CI_PROFILE, steadyTrace(15, 15_000, 1024, 256));
    const preempts = run.events.filter((e) => e.kind === 'preempt');
    expect(preempts.length).toBeGreaterThan(0);
    expect(run.engine.stats().preemptions).toBe(preempts.length);
    const preempted = run.outcomes.filter((o) => o.result.preemptions > 0);
    expect(preempted.length).toBeGreaterThan(0);
    for (const o of run.outcomes) expect(o.result.outputTokens).toBe(256);
    // Victim = the newest admission at that moment.
    const admitted: string[] = [];
    for (const e of run.events) {
      if (e.kind === 'admit') admitted.push(e.id);
      if (e.kind === 'finish') admitted.splice(admitted.indexOf(e.id), 1);
      if (e.kind === 'preempt') {
        expect(admitted[admitted.length - 1]).toBe(e.id);
        admitted.pop();
      }
    }
  });

  it('raises every tenant’s inter-token latency when a long-prompt tenant arrives (noisy neighbour)', () => {
    const quiet = steadyTrace(3, 20_000, 128, 256, 'quiet');
    const itl = (neighbour: TraceRequest[]): number => {
      const run = runTrace(CI_PROFILE, [...quiet, ...neighbour].sort((a, b) => a.at - b.at));
      return mean(run.outcomes.filter((o) => o.request.tenant === 'quiet').flatMap((o) => o.itls));
    };
    const alone = itl([]);
    // Same request rate, short prompts: hardly any effect. Long prompts: every decode shares steps with
    // 2,048-token prefill chunks (35 ms of prefill on top of b0), so the quiet tenant's ITL rises.
    const shortNeighbour = itl(steadyTrace(6, 20_000, 128, 16, 'short'));
    const longNeighbour = itl(steadyTrace(6, 20_000, 3500, 16, 'long'));
    expect(shortNeighbour).toBeLessThan(alone * 1.2);
    expect(longNeighbour).toBeGreaterThan(alone * 1.5);
  });

  it('serves repeated prefixes from the prefix cache and counts the hits', () => {
    const hashes = Array.from({ length: 64 }, (_, i) => 1000 + i);
    const trace: TraceRequest[] = [
      { at: 0, promptTokens: 1024, outputTokens: 4, blockHashes: hashes },
      { at: 1000, promptTokens: 1024, outputTokens: 4, blockHashes: hashes },
    ];
    const run = runTrace(CI_PROFILE, trace);
    const [first, second] = run.outcomes;
    expect(first?.result.cachedTokens).toBe(0);
    // All but the last block: vLLM recomputes at least one token.
    expect(second?.result.cachedTokens).toBe(1008);
    expect(second!.ttft).toBeLessThan(first!.ttft / 2);
  });

  it('gives identical event logs for an identical seed and trace', () => {
    const traceRandom = new SeededRandom(42);
    const trace: TraceRequest[] = [];
    let t = 0;
    for (let i = 0; i < 300; i++) {
      t += -Math.log(1 - traceRandom.next()) * 40;
      trace.push({
        at: t,
        promptTokens: 16 + Math.floor(traceRandom.next() * 2000),
        outputTokens: 1 + Math.floor(traceRandom.next() * 400),
        natural: true,
        blockHashes: traceRandom.next() < 0.5 ? [7, 8, 9, 10] : [],
        abortAfter: traceRandom.next() < 0.05 ? 200 : undefined,
      });
    }
    const a = runTrace(CI_PROFILE, trace, { seed: 7 });
    const b = runTrace(CI_PROFILE, trace, { seed: 7 });
    const c = runTrace(CI_PROFILE, trace, { seed: 8 });
    expect(a.events.length).toBeGreaterThan(1000);
    expect(b.events).toEqual(a.events);
    expect(c.events).not.toEqual(a.events);
  });

  it('frees an aborted request’s blocks at once and never spins when idle', () => {
    const clock = new ManualClock();
    const engine = new SimEngine({ profile: CI_PROFILE, clock });
    const id = engine.submit({ promptTokens: 1000, outputTokens: 1000, maxTokens: 1000 });
    clock.advance(100);
    expect(engine.stats().running).toBe(1);
    expect(engine.stats().usedBlocks).toBeGreaterThan(60);
    expect(engine.abort(id)).toBe(true);
    expect(engine.stats()).toMatchObject({ running: 0, waiting: 0, usedBlocks: 0 });
    // Idle: the step loop armed nothing (a spinning loop would always have a timer pending).
    clock.advance(1000);
    expect(clock.pendingTimers()).toBe(0);
    expect(engine.abort(id)).toBe(false);
  });

  it('gives an aborted running request\'s batch slot and blocks to the next waiting request at the next step', () => {
    const clock = new ManualClock();
    const engine = new SimEngine({ profile: CI_PROFILE, clock });
    const admitted: string[] = [];
    engine.observe((e) => {
      if (e.kind === 'admit') admitted.push(e.id);
    });
    const ids = Array.from({ length: CI_PROFILE.maxNumSeqs }, (_, i) =>
      engine.submit({ id: `run-${i}`, promptTokens: 32, outputTokens: 2_000, maxTokens: 2_000 }),
    );
    const waiting = engine.submit({ id: 'waiting', promptTokens: 32, outputTokens: 500, maxTokens: 500 });
    clock.advance(200);
    expect(engine.stats()).toMatchObject({ running: CI_PROFILE.maxNumSeqs, waiting: 1 });
    const usedBefore = engine.stats().usedBlocks;
    // Aborted in the middle of a step: the step already formed keeps its length, the slot is free for the next one.
    expect(engine.abort(ids[5] as string)).toBe(true);
    expect(engine.stats().running).toBe(CI_PROFILE.maxNumSeqs - 1);
    expect(engine.stats().usedBlocks).toBeLessThan(usedBefore);
    clock.advance(50);
    expect(admitted).toContain(waiting);
    expect(engine.stats()).toMatchObject({ running: CI_PROFILE.maxNumSeqs, waiting: 0 });
    const blocks = engine.inspectBlocks();
    expect(blocks.heldByRequests).toBeLessThanOrEqual(blocks.used);
    engine.close();
    expect(engine.stats().usedBlocks).toBe(0);
  });

  it('limits distinct LoRA adapters per batch to maxLoras without blocking other requests', () => {
    const clock = new ManualClock();
    const engine = new SimEngine({ profile: CI_PROFILE, clock, maxLoras: 1 });
    let maxDistinct = 0;
    engine.observe((e) => {
      if (e.kind === 'step') maxDistinct = Math.max(maxDistinct, engine.stats().runningLoras.length);
    });
    const finishedAt = new Map<string, number>();
    const submit = (lora: string | undefined, n: number): void => {
      const id = engine.submit({ promptTokens: 64, outputTokens: 50, maxTokens: 50, lora }, {
        onFinish: (r) => finishedAt.set(`${lora ?? 'base'}-${n}`, r.finishMs),
      });
      expect(id).toBeTruthy();
    };
    submit('a', 0);
    submit('b', 0);
    submit(undefined, 0);
    clock.advance(1);
    // a runs; b waits for the single LoRA slot while the base-model request goes ahead of it.
    expect(engine.stats().runningLoras).toEqual(['a']);
    expect(engine.stats().waitingLoras).toEqual(['b']);
    clock.runAll();
    expect(maxDistinct).toBe(1);
    // The base-model request was not stuck behind adapter b.
    expect(finishedAt.get('base-0')!).toBeLessThan(finishedAt.get('b-0')!);
  });

  it('serves lower priority values first under the priority policy', () => {
    const tiny: SimProfile = { ...CI_PROFILE, name: 'tiny', maxNumSeqs: 1 };
    const clock = new ManualClock();
    const engine = new SimEngine({ profile: tiny, clock, schedulingPolicy: 'priority' });
    const order: number[] = [];
    for (const priority of [0, 5, 3, -1]) {
      engine.submit({ promptTokens: 32, outputTokens: 5, maxTokens: 5, priority }, { onFinish: () => order.push(priority) });
    }
    clock.runAll();
    // The first admitted runs; the rest are ordered by priority value.
    expect(order).toEqual([0, -1, 3, 5]);
  });

  it('slows a pod uniformly with its speed factor and the time scale', () => {
    const durations = (options: { speedFactor?: number; timeScale?: number }): number => {
      // Isolated requests (one every 2 s), so the ratio is exact rather than load-dependent.
      const run = runTrace(CI_PROFILE, steadyTrace(0.5, 10_000, 512, 64), options);
      return mean(run.outcomes.map((o) => o.result.finishMs - o.result.arrivalMs));
    };
    const base = durations({});
    expect(durations({ speedFactor: 0.5 }) / base).toBeCloseTo(2, 6);
    expect(durations({ timeScale: 0.1 }) / base).toBeCloseTo(0.1, 6);
  });
});
