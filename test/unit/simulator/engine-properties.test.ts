// Properties of the engine over random traces on tiny pools (so preemption and eviction happen often).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type EngineEvent, type SimProfile } from '../../../src/simulator/index.js';
import { type TraceRequest, runTrace } from './trace.js';

const PREFIXES: readonly (readonly number[])[] = [[], [11, 12, 13, 14, 15, 16], [11, 12, 21, 22], [31, 32, 33]];

const profileArb = fc.record({
  numBlocks: fc.integer({ min: 24, max: 64 }),
  maxNumSeqs: fc.integer({ min: 1, max: 6 }),
  maxNumBatchedTokens: fc.integer({ min: 8, max: 64 }),
  schedulingPolicy: fc.constantFrom('fcfs' as const, 'priority' as const),
});

const requestArb = fc.record({
  at: fc.integer({ min: 0, max: 2000 }),
  promptTokens: fc.integer({ min: 1, max: 60 }),
  outputTokens: fc.integer({ min: 1, max: 30 }),
  prefix: fc.integer({ min: 0, max: PREFIXES.length - 1 }),
  priority: fc.integer({ min: -2, max: 2 }),
  abortAfter: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
});

type RequestCase = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;
type ProfileCase = typeof profileArb extends fc.Arbitrary<infer T> ? T : never;

function toTrace(requests: readonly RequestCase[]): TraceRequest[] {
  return requests
    .map((r) => ({
      at: r.at,
      promptTokens: r.promptTokens,
      outputTokens: r.outputTokens,
      // Hashes only for the prompt's full blocks of 4 tokens.
      blockHashes: (PREFIXES[r.prefix] ?? []).slice(0, Math.floor(r.promptTokens / 4)),
      priority: r.priority,
      abortAfter: r.abortAfter,
    }))
    .sort((a, b) => a.at - b.at);
}

function tinyProfile(p: ProfileCase): SimProfile {
  return {
    name: 'tiny',
    b0: 1,
    b1: 0.01,
    b2: 0.01,
    b3: 0.001,
    a0: 0.1,
    a1: 0.001,
    numBlocks: p.numBlocks,
    blockSize: 4,
    maxNumSeqs: p.maxNumSeqs,
    maxNumBatchedTokens: p.maxNumBatchedTokens,
    maxModelLen: 96,
  };
}

describe('SimEngine properties', () => {
  it('conserves blocks at every step: free + cached + used == total, and references == blocks held by requests', () => {
    // Counted over all runs: a run whose requests are all aborted before the first step has no step to check.
    let checks = 0;
    fc.assert(
      fc.property(profileArb, fc.array(requestArb, { minLength: 1, maxLength: 30 }), (p, requests) => {
        const profile = tinyProfile(p);
        const run = runTrace(profile, toTrace(requests), {
          schedulingPolicy: p.schedulingPolicy,
          onStep: (engine) => {
            const a = engine.inspectBlocks();
            expect(a.free + a.cached + a.used).toBe(a.total);
            expect(a.references).toBe(a.heldByRequests);
            expect(a.used).toBeLessThanOrEqual(a.references);
            checks++;
          },
        });
        const end = run.engine.inspectBlocks();
        expect(end.used).toBe(0);
        expect(end.free + end.cached).toBe(end.total);
      }),
      { numRuns: 150 },
    );
    expect(checks).toBeGreaterThan(150);
  });

  it('ends every request exactly once, with exactly its output length unless aborted', () => {
    fc.assert(
      fc.property(profileArb, fc.array(requestArb, { minLength: 1, maxLength: 30 }), (p, requests) => {
        const trace = toTrace(requests);
        const run = runTrace(tinyProfile(p), trace, { schedulingPolicy: p.schedulingPolicy });
        expect(run.outcomes).toHaveLength(trace.length);
        const finishes = run.events.filter((e) => e.kind === 'finish');
        expect(new Set(finishes.map((e) => e.id)).size).toBe(trace.length);
        for (const o of run.outcomes) {
          if (o.result.reason !== 'abort') expect(o.result.outputTokens).toBe(o.request.outputTokens);
          else expect(o.result.outputTokens).toBeLessThanOrEqual(o.request.outputTokens);
        }
        expect(run.engine.busy).toBe(false);
        expect(run.clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('never exceeds the sequence limit or the token budget in a step', () => {
    fc.assert(
      fc.property(profileArb, fc.array(requestArb, { minLength: 1, maxLength: 30 }), (p, requests) => {
        const profile = tinyProfile(p);
        const run = runTrace(profile, toTrace(requests), { schedulingPolicy: p.schedulingPolicy });
        const steps = run.events.filter((e): e is Extract<EngineEvent, { kind: 'step' }> => e.kind === 'step');
        for (const s of steps) {
          expect(s.running).toBeLessThanOrEqual(profile.maxNumSeqs);
          expect(s.prefillTokens + s.decodeSeqs).toBeLessThanOrEqual(profile.maxNumBatchedTokens);
          expect(s.durationMs).toBeGreaterThanOrEqual(profile.b0);
        }
      }),
      { numRuns: 100 },
    );
  });
});
