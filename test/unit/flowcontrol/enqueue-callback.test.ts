import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Logger, ManualClock } from '../../../src/core/index.js';
import {
  FlowController,
  type FlowControllerOptions,
  type FlowRequest,
  type Lease,
  type Outcome,
  type OutcomeCallback,
} from '../../../src/flowcontrol/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { ConcurrencyLimitSaturation, SettableSaturation } from '../../support/settable-saturation.js';

let nextId = 0;
function req(partial: Partial<FlowRequest> = {}): FlowRequest {
  return { id: `r${nextId++}`, fairnessId: 'a', priority: 0, byteSize: 100, estimatedCost: 10, ...partial };
}

interface LoggedError {
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}

/** A Logger that keeps what is logged at error level. */
function capturingLogger(): { logger: Logger; errors: LoggedError[] } {
  const errors: LoggedError[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (obj, msg) => errors.push({ obj: obj as Record<string, unknown>, msg }),
    child: () => logger,
  };
  return { logger, errors };
}

function setup(options: Partial<FlowControllerOptions> = {}, initialSaturation = 0) {
  const clock = new ManualClock();
  const saturation = new SettableSaturation(initialSaturation);
  const { logger, errors } = capturingLogger();
  const fc = new FlowController({ saturation, clock, logger, ...options });
  return { clock, saturation, fc, errors };
}

/** An onOutcome that records every call it gets. */
function recorder(): { outcomes: Outcome[]; cb: OutcomeCallback } {
  const outcomes: Outcome[] = [];
  return { outcomes, cb: (o) => outcomes.push(o) };
}

function leaseOf(o: Outcome | undefined): Lease {
  if (o?.kind !== 'dispatched') throw new Error(`expected a dispatch, got ${JSON.stringify(o)}`);
  return o.lease;
}

/**
 * Runs event-loop turns until `done()` holds, at most `bound` of them. Each turn also fires the virtual clock's
 * zero-delay timers: a ManualClock's `defer` (how the engine yields to the event loop) is one of those.
 */
async function until(clock: ManualClock, done: () => boolean, bound = 1_000): Promise<void> {
  for (let i = 0; i < bound && !done(); i++) {
    clock.advance(0);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('FlowController.enqueue (callback API)', () => {
  it('fast path: with nothing queued and the gate open, delivers the dispatch and a live lease before enqueue returns', async () => {
    const { fc } = setup();
    const { outcomes, cb } = recorder();
    const dispatchHook: Lease[] = [];
    fc.enqueue(req({ fairnessId: 'tenant', priority: 3 }), cb, { onDispatch: (l) => dispatchHook.push(l) });
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ kind: 'dispatched', waitMs: 0 });
    const lease = leaseOf(outcomes[0]);
    expect(lease).toMatchObject({ priority: 3, fairnessId: 'tenant' });
    expect(dispatchHook).toEqual([lease]);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 1 });
    await flushMicrotasks();
    expect(outcomes).toHaveLength(1);
    lease.release();
    lease.release();
    expect(fc.stats().inflight).toBe(0);
  });

  it('queues while the gate is closed, delivers nothing, then delivers one dispatch (onDispatch first) once the gate opens', async () => {
    const { fc, saturation, clock } = setup({}, 1.0);
    const calls: string[] = [];
    const outcomes: Outcome[] = [];
    fc.enqueue(
      req(),
      (o) => {
        calls.push('onOutcome');
        outcomes.push(o);
      },
      { onDispatch: () => calls.push('onDispatch') },
    );
    expect(outcomes).toHaveLength(0);
    expect(fc.stats().queuedRequests).toBe(1);
    await flushMicrotasks();
    clock.advance(250);
    await flushMicrotasks();
    expect(outcomes).toHaveLength(0);
    saturation.set(0);
    // The dispatch happens in a microtask cycle, not inside the saturation listener.
    expect(outcomes).toHaveLength(0);
    await flushMicrotasks();
    expect(calls).toEqual(['onDispatch', 'onOutcome']);
    expect(outcomes[0]).toMatchObject({ kind: 'dispatched', waitMs: 250 });
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 1 });
    leaseOf(outcomes[0]).release();
    expect(fc.stats().inflight).toBe(0);
  });

  it('rejects with capacity synchronously and exactly once when a reject-overflow band of maxRequests 1 is full, leaving the queued request alone', async () => {
    const { fc } = setup({ bands: [{ priority: 0, maxRequests: 1, overflow: 'reject' }] }, 1.0);
    const held = recorder();
    const refused = recorder();
    fc.enqueue(req({ fairnessId: 'a' }), held.cb);
    fc.enqueue(req({ fairnessId: 'b' }), refused.cb);
    expect(refused.outcomes).toHaveLength(1);
    expect(refused.outcomes[0]).toMatchObject({ kind: 'rejected', reason: 'capacity' });
    expect(refused.outcomes[0]?.kind === 'rejected' && refused.outcomes[0].message).toContain('1/1 requests');
    await flushMicrotasks();
    expect(refused.outcomes).toHaveLength(1);
    expect(held.outcomes).toHaveLength(0);
    expect(fc.stats().queuedRequests).toBe(1);
  });

  it('rejects with shutdown synchronously and exactly once after drain()', async () => {
    const { fc } = setup();
    let drained = false;
    void fc.drain().then(() => (drained = true));
    const { outcomes, cb } = recorder();
    fc.enqueue(req(), cb);
    expect(outcomes).toEqual([expect.objectContaining({ kind: 'rejected', reason: 'shutdown' })]);
    await flushMicrotasks();
    expect(outcomes).toHaveLength(1);
    expect(drained).toBe(true);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 0 });
  });

  it('throws synchronously, naming the field, for invalid input, and then never calls onOutcome nor creates state', async () => {
    for (const saturation of [0, 1.0]) {
      const { fc } = setup({}, saturation);
      const { outcomes, cb } = recorder();
      expect(() => fc.enqueue(req({ byteSize: -1 }), cb)).toThrow(/request\.byteSize/);
      expect(() => fc.enqueue(req({ estimatedCost: Number.NaN }), cb)).toThrow(/request\.estimatedCost/);
      expect(() => fc.enqueue(req({ estimatedCost: 1e308 }), cb)).toThrow(/request\.estimatedCost/);
      expect(() => fc.enqueue(req({ fairnessId: '' }), cb)).toThrow(/request\.fairnessId/);
      expect(() => fc.enqueue(req({ priority: 0.5 }), cb)).toThrow(/request\.priority/);
      expect(() => fc.enqueue(req({ ttlMs: 0 }), cb)).toThrow(/request\.ttlMs/);
      expect(() => fc.enqueue(req({ arrivedAt: Number.POSITIVE_INFINITY }), cb)).toThrow(/request\.arrivedAt/);
      expect(() => fc.enqueue(null as unknown as FlowRequest, cb)).toThrow(/request/);
      await flushMicrotasks();
      expect(outcomes).toHaveLength(0);
      expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 0, liveFlows: 0 });
      // Validation comes before the shutdown refusal: bad input still throws after close().
      await fc.close();
      expect(() => fc.enqueue(req({ byteSize: -1 }), cb)).toThrow(/request\.byteSize/);
      expect(outcomes).toHaveLength(0);
    }
  });

  it('logs and ignores an onOutcome that throws on the fast path; the next request still dispatches and the counts stay right', async () => {
    const { fc, errors } = setup();
    const boom = new Error('caller bug');
    let first: Lease | undefined;
    let calls = 0;
    const throwing: OutcomeCallback = (o) => {
      calls++;
      first = leaseOf(o);
      throw boom;
    };
    expect(() => fc.enqueue(req({ id: 'thrower' }), throwing)).not.toThrow();
    expect(calls).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.obj).toMatchObject({ err: boom, requestId: 'thrower', outcome: 'dispatched' });
    expect(errors[0]!.msg).toMatch(/outcome callback threw/);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 1 });

    const next = recorder();
    fc.enqueue(req(), next.cb);
    expect(next.outcomes).toEqual([expect.objectContaining({ kind: 'dispatched' })]);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 2 });
    first!.release();
    leaseOf(next.outcomes[0]).release();
    await flushMicrotasks();
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 0 });
    expect(calls).toBe(1);
  });

  it('logs and ignores an onOutcome that throws inside a dispatch cycle; the rest of the cycle still dispatches', async () => {
    const { fc, saturation, errors } = setup({}, 1.0);
    const before = recorder();
    const after = recorder();
    let thrown = 0;
    fc.enqueue(req(), before.cb);
    fc.enqueue(req({ id: 'thrower' }), () => {
      thrown++;
      throw new Error('caller bug');
    });
    fc.enqueue(req(), after.cb);
    expect(fc.stats().queuedRequests).toBe(3);
    saturation.set(0);
    await flushMicrotasks();
    expect(thrown).toBe(1);
    expect(errors.map((e) => e.obj.requestId)).toEqual(['thrower']);
    expect(before.outcomes).toEqual([expect.objectContaining({ kind: 'dispatched' })]);
    expect(after.outcomes).toEqual([expect.objectContaining({ kind: 'dispatched' })]);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 3 });
  });

  it('logs and ignores an onOutcome that throws on eviction; the queues stay consistent and the survivor dispatches later', async () => {
    const { fc, saturation, errors } = setup({}, 1.0);
    const ac = new AbortController();
    let thrown = 0;
    fc.enqueue(
      req({ id: 'thrower' }),
      () => {
        thrown++;
        throw new Error('caller bug');
      },
      { signal: ac.signal },
    );
    const survivor = recorder();
    fc.enqueue(req(), survivor.cb);
    expect(() => ac.abort()).not.toThrow();
    expect(thrown).toBe(1);
    expect(errors[0]?.obj).toMatchObject({ requestId: 'thrower', outcome: 'evicted' });
    expect(fc.stats().queuedRequests).toBe(1);
    saturation.set(0);
    await flushMicrotasks();
    expect(survivor.outcomes).toEqual([expect.objectContaining({ kind: 'dispatched' })]);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 1 });
    expect(thrown).toBe(1);
  });

  it('does not deliver recursively an enqueue made from inside a dispatched onOutcome: its dispatch arrives after that callback returns, once', async () => {
    const { fc } = setup();
    const inner = recorder();
    let deliveredInside = -1;
    fc.enqueue(req(), () => {
      fc.enqueue(req(), inner.cb);
      deliveredInside = inner.outcomes.length;
    });
    expect(deliveredInside).toBe(0);
    await flushMicrotasks();
    expect(inner.outcomes).toEqual([expect.objectContaining({ kind: 'dispatched' })]);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 2 });
  });

  it('does not deliver recursively an enqueue made from inside an onDispatch hook, nor ahead of the request being dispatched', async () => {
    const { fc } = setup();
    const order: string[] = [];
    let deliveredInsideHook = -1;
    fc.enqueue(req(), () => order.push('outer'), {
      onDispatch: () => {
        fc.enqueue(req(), () => order.push('inner'));
        deliveredInsideHook = order.length;
      },
    });
    expect(deliveredInsideHook).toBe(0);
    await flushMicrotasks();
    expect(order).toEqual(['outer', 'inner']);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 2 });
  });

  it('runs a chain of 20,000 requests, each submitted from the previous onOutcome with the gate open, without growing the stack; every callback once', async () => {
    const N = 20_000;
    const { fc, errors, clock } = setup();
    const calls = new Uint32Array(N);
    let depth = 0;
    let maxDepth = 0;
    let done = 0;
    const submit = (i: number): void => {
      fc.enqueue(req({ fairnessId: `t${i % 7}` }), (o) => {
        depth++;
        maxDepth = Math.max(maxDepth, depth);
        calls[i]!++;
        done++;
        leaseOf(o).release();
        if (i + 1 < N) submit(i + 1);
        depth--;
      });
    };
    submit(0);
    await until(clock, () => done >= N);
    expect(done).toBe(N);
    expect(calls.every((c) => c === 1)).toBe(true);
    expect(maxDepth).toBe(1);
    // A RangeError caught by the engine would show up here.
    expect(errors).toEqual([]);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 0 });
  });

  it('delivers evicted/cancelled exactly once when the AbortSignal fires while queued, or when it fired before enqueue', async () => {
    const { fc, saturation, clock } = setup({ defaultTtlMs: 1_000 }, 1.0);
    const ac = new AbortController();
    const queued = recorder();
    fc.enqueue(req(), queued.cb, { signal: ac.signal });
    clock.advance(40);
    ac.abort();
    expect(queued.outcomes).toEqual([expect.objectContaining({ kind: 'evicted', reason: 'cancelled', waitMs: 40 })]);
    expect(fc.stats().queuedRequests).toBe(0);

    const early = recorder();
    fc.enqueue(req(), early.cb, { signal: AbortSignal.abort() });
    expect(early.outcomes).toEqual([expect.objectContaining({ kind: 'evicted', reason: 'cancelled', waitMs: 0 })]);
    expect(fc.stats().queuedRequests).toBe(0);

    // Nothing later (gate opening, TTL, close) reaches them again.
    saturation.set(0);
    clock.advance(5_000);
    await fc.close();
    await flushMicrotasks();
    expect(queued.outcomes).toHaveLength(1);
    expect(early.outcomes).toHaveLength(1);
  });

  it('delivers evicted/ttl exactly once when a queued request expires', async () => {
    const { fc, clock, saturation } = setup({ defaultTtlMs: 1_000 }, 1.0);
    const { outcomes, cb } = recorder();
    const ac = new AbortController();
    fc.enqueue(req(), cb, { signal: ac.signal });
    clock.advance(999);
    expect(outcomes).toHaveLength(0);
    clock.advance(1);
    expect(outcomes).toEqual([expect.objectContaining({ kind: 'evicted', reason: 'ttl', waitMs: 1_000 })]);
    ac.abort();
    saturation.set(0);
    await fc.close();
    await flushMicrotasks();
    expect(outcomes).toHaveLength(1);
  });

  it('close() delivers evicted/shutdown exactly once to every queued callback request, and later events deliver nothing more', async () => {
    const clock = new ManualClock();
    const saturation = new ConcurrencyLimitSaturation(1);
    const fc = new FlowController({ saturation, clock, defaultTtlMs: 1_000 });
    saturation.begin();
    const acs = [0, 1, 2].map(() => new AbortController());
    const recs = acs.map((ac, i) => {
      const r = recorder();
      fc.enqueue(req({ fairnessId: `t${i}`, priority: i - 1 }), r.cb, { signal: ac.signal });
      return r;
    });
    await flushMicrotasks();
    expect(fc.stats().queuedRequests).toBe(3);
    await Promise.all([fc.close(), fc.close()]);
    for (const r of recs) expect(r.outcomes).toEqual([expect.objectContaining({ kind: 'evicted', reason: 'shutdown' })]);
    for (const ac of acs) ac.abort();
    saturation.end();
    clock.advance(10_000);
    await flushMicrotasks();
    for (const r of recs) expect(r.outcomes).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
    expect(saturation.listenerCount).toBe(0);
    const late = recorder();
    fc.enqueue(req(), late.cb);
    expect(late.outcomes).toEqual([expect.objectContaining({ kind: 'rejected', reason: 'shutdown' })]);
  });
});

describe('FlowController: review regressions', () => {
  it('runs a chain of 20,000 requests, each enqueued from the previous one\'s onDispatch hook on an open gate, without nesting hooks; every one gets one outcome and the engine stays usable', async () => {
    const N = 20_000;
    const { fc, errors, clock } = setup();
    let depth = 0;
    let maxDepth = 0;
    const outcomes = new Array<number>(N).fill(0);
    const submit = (i: number): void => {
      fc.enqueue(req({ id: `c${i}` }), (o) => {
        outcomes[i] = (outcomes[i] ?? 0) + 1;
        if (o.kind === 'dispatched') o.lease.release();
      }, {
        onDispatch: () => {
          depth++;
          maxDepth = Math.max(maxDepth, depth);
          if (i + 1 < N) submit(i + 1);
          depth--;
        },
      });
    };
    submit(0);
    await until(clock, () => outcomes[N - 1] === 1, 10_000);
    expect(errors).toEqual([]);
    expect(maxDepth).toBe(1);
    expect(outcomes.every((n) => n === 1)).toBe(true);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 0 });
    const later = recorder();
    fc.enqueue(req(), later.cb);
    expect(later.outcomes.map((o) => o.kind)).toEqual(['dispatched']);
  });

  it('close() resolves only after every queued request has its shutdown outcome, more than a cycle\'s worth included, and leaves no timer', async () => {
    const { fc, clock } = setup({ maxDispatchesPerCycle: 4 }, 1.0);
    const got = recorder();
    for (let i = 0; i < 10; i++) fc.enqueue(req(), got.cb);
    await fc.close();
    expect(got.outcomes).toHaveLength(10);
    expect(got.outcomes.every((o) => o.kind === 'evicted' && o.reason === 'shutdown')).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });
});

// Contract (doc comment of `enqueue`): callbacks are never nested. Every outcome, whatever produced it (a refusal,
// an early settle, an eviction by abort or TTL, a dispatch), goes through the outbox and is delivered only once the
// engine operation that produced it is complete; an enqueue made from inside a callback is delivered after that
// callback returns, so chains of requests, refusals included, cannot grow the stack.
describe('FlowController.enqueue: re-entrancy from outcomes delivered outside a dispatch cycle', () => {
  it('does not dispatch inside the onOutcome of a pre-cancelled request an enqueue made from it', () => {
    const { fc } = setup();
    const inner = recorder();
    let deliveredInside = -1;
    fc.enqueue(
      req(),
      () => {
        fc.enqueue(req(), inner.cb);
        deliveredInside = inner.outcomes.length;
      },
      { signal: AbortSignal.abort() },
    );
    expect(deliveredInside).toBe(0);
  });

  it('delivers a flow-limit refusal once, after the enqueue that caused it, and an enqueue made from it is delivered after it returns', async () => {
    // Flows exist only for queued work (a fast-path dispatch needs none), so the limit is reached with the gate shut.
    const { fc, saturation } = setup({ maxFlows: 1 }, 1.0);
    const held = recorder();
    fc.enqueue(req({ fairnessId: 'a' }), held.cb);
    expect(fc.stats().liveFlows).toBe(1);
    const inner = recorder();
    const refusals: Outcome[] = [];
    let deliveredInside = -1;
    fc.enqueue(req({ fairnessId: 'b' }), (o) => {
      refusals.push(o);
      fc.enqueue(req({ fairnessId: 'a' }), inner.cb);
      deliveredInside = inner.outcomes.length;
    });
    expect(refusals).toEqual([expect.objectContaining({ kind: 'rejected', reason: 'flow-limit' })]);
    expect(deliveredInside).toBe(0);
    saturation.set(0);
    await flushMicrotasks();
    expect(held.outcomes.map((o) => o.kind)).toEqual(['dispatched']);
    expect(inner.outcomes.map((o) => o.kind)).toEqual(['dispatched']);
  });

  it('does not dispatch inside the onOutcome of an abort eviction an enqueue made from it', () => {
    const { fc, saturation } = setup({}, 1.0);
    const ac = new AbortController();
    const inner = recorder();
    let deliveredInside = -1;
    fc.enqueue(
      req(),
      () => {
        fc.enqueue(req(), inner.cb);
        deliveredInside = inner.outcomes.length;
      },
      { signal: ac.signal },
    );
    saturation.set(0);
    // The gate is open and the cycle is scheduled but has not run; the client goes away meanwhile.
    ac.abort();
    expect(deliveredInside).toBe(0);
  });

  it('dispatches a flood of tenants on the fast path without creating flows, so the flow limit applies only to queued work', () => {
    const { fc, saturation } = setup({ maxFlows: 1 });
    const fast = recorder();
    for (const t of ['a', 'b', 'c']) fc.enqueue(req({ fairnessId: t }), fast.cb);
    expect(fast.outcomes.map((o) => o.kind)).toEqual(['dispatched', 'dispatched', 'dispatched']);
    expect(fc.stats().liveFlows).toBe(0);
    saturation.set(1);
    const queued = recorder();
    for (const t of ['a', 'b']) fc.enqueue(req({ fairnessId: t }), queued.cb);
    expect(queued.outcomes).toEqual([expect.objectContaining({ kind: 'rejected', reason: 'flow-limit' })]);
    expect(fc.stats().queuedRequests).toBe(1);
  });

  it('runs a chain of 20,000 requests, each submitted from the previous one\'s shutdown refusal, without growing the stack', async () => {
    const N = 20_000;
    const { fc, errors, clock } = setup();
    void fc.drain();
    let depth = 0;
    let maxDepth = 0;
    let done = 0;
    const submit = (i: number): void => {
      fc.enqueue(req(), () => {
        depth++;
        maxDepth = Math.max(maxDepth, depth);
        done++;
        if (i + 1 < N) submit(i + 1);
        depth--;
      });
    };
    submit(0);
    await until(clock, () => done >= N);
    expect(errors).toEqual([]);
    expect(done).toBe(N);
    expect(maxDepth).toBe(1);
  });
});

// The engine yields to the event loop after maxDispatchesPerCycle dispatches counted across cycles, not per cycle:
// cycles chained by microtasks (a callback that releases and enqueues again kicks the next one) would otherwise
// never let I/O or timers in.
describe('FlowController.enqueue: yielding under a closed loop of callback clients', () => {
  it('dispatches at most maxDispatchesPerCycle per event-loop turn from a plain backlog, and the rest on later turns', async () => {
    const { fc, saturation, clock } = setup({ maxDispatchesPerCycle: 8 }, 1.0);
    let delivered = 0;
    for (let i = 0; i < 50; i++) fc.enqueue(req(), () => delivered++);
    saturation.set(0);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(delivered).toBe(8);
    await until(clock, () => delivered >= 50);
    expect(delivered).toBe(50);
    expect(fc.stats()).toMatchObject({ queuedRequests: 0, inflight: 50 });
  });

  it('dispatches at most maxDispatchesPerCycle per event-loop turn even when each onOutcome enqueues the next request', async () => {
    const { fc, saturation, clock } = setup({ maxDispatchesPerCycle: 8 }, 1.0);
    let delivered = 0;
    const submit = (generation: number): void => {
      fc.enqueue(req(), (o) => {
        delivered++;
        leaseOf(o).release();
        if (generation < 4) submit(generation + 1);
      });
    };
    for (let i = 0; i < 50; i++) submit(0);
    saturation.set(0);
    // One event-loop turn, virtual time frozen: only the first cycle may have run.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(delivered).toBeLessThanOrEqual(8);
    await until(clock, () => delivered >= 250);
    expect(delivered).toBe(250);
  });
});

type Step =
  | {
      op: 'enqueue';
      tenant: number;
      priority: number;
      ttlMs: number | undefined;
      cancellable: boolean;
      preAborted: boolean;
      throws: boolean;
      nested: boolean;
    }
  | { op: 'cancel'; pick: number }
  | { op: 'release'; pick: number }
  | { op: 'limit'; limit: number }
  | { op: 'advance'; ms: number }
  | { op: 'flush' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('enqueue' as const),
      tenant: fc.integer({ min: 0, max: 3 }),
      priority: fc.integer({ min: -1, max: 1 }),
      ttlMs: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
      cancellable: fc.boolean(),
      preAborted: fc.nat({ max: 7 }).map((n) => n === 0),
      throws: fc.boolean(),
      nested: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('limit' as const), limit: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 200 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
);

/** At most one shutdown per trace, in its second half, so most of the trace runs against a live controller. */
const shutdownArb = fc.option(fc.record({ at: fc.nat(), kind: fc.constantFrom('drain' as const, 'close' as const) }), {
  nil: undefined,
});

interface Submitted {
  readonly throws: boolean;
  readonly abort: AbortController | undefined;
  outcomes: Outcome[];
  lease: Lease | undefined;
  released: boolean;
}

describe('FlowController.enqueue (property)', () => {
  it('gives every request submitted through enqueue exactly one outcome, and keeps queued/inflight counts equal to the undelivered/unreleased requests, over random traces', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 60, size: 'large' }), shutdownArb, async (steps, shutdown) => {
        const clock = new ManualClock();
        const saturation = new ConcurrencyLimitSaturation(2);
        const { logger, errors } = capturingLogger();
        const ctl = new FlowController({
          saturation,
          clock,
          logger,
          defaultTtlMs: 250,
          fallbackIntervalMs: 50,
          maxQueuedRequests: 8,
          maxFlows: 6,
          bands: [
            { priority: 0, maxRequests: 3, overflow: 'reject' },
            { priority: 1, maxRequests: 4, overflow: 'fair-share' },
          ],
        });
        const submitted: Submitted[] = [];
        let thrown = 0;

        const submit = (s: Extract<Step, { op: 'enqueue' }>, nested: boolean): void => {
          const abort = s.cancellable || s.preAborted ? new AbortController() : undefined;
          if (s.preAborted) abort?.abort();
          const sub: Submitted = { throws: s.throws, abort, outcomes: [], lease: undefined, released: false };
          submitted.push(sub);
          ctl.enqueue(
            req({ fairnessId: `t${s.tenant}`, priority: s.priority, ttlMs: s.ttlMs }),
            (o) => {
              sub.outcomes.push(o);
              if (o.kind === 'dispatched') sub.lease = o.lease;
              // One level of follow-up requests from inside the callback, as a retrying client would send.
              if (s.nested && !nested) submit({ ...s, preAborted: false, throws: false }, true);
              if (s.throws) {
                thrown++;
                throw new Error('caller bug');
              }
            },
            { signal: abort?.signal, onDispatch: () => saturation.begin() },
          );
        };

        const checkInvariants = (): void => {
          for (const sub of submitted) expect(sub.outcomes.length).toBeLessThanOrEqual(1);
          const undelivered = submitted.filter((x) => x.outcomes.length === 0).length;
          const unreleased = submitted.filter((x) => x.lease !== undefined && !x.released).length;
          expect(ctl.stats().queuedRequests).toBe(undelivered);
          expect(ctl.stats().inflight).toBe(unreleased);
          expect(errors.length).toBe(thrown);
        };

        const half = Math.floor(steps.length / 2);
        const shutdownAt = shutdown === undefined ? -1 : half + (shutdown.at % (steps.length - half));
        for (const [index, s] of steps.entries()) {
          if (index === shutdownAt) void (shutdown?.kind === 'drain' ? ctl.drain() : ctl.close());
          switch (s.op) {
            case 'enqueue':
              submit(s, false);
              break;
            case 'cancel': {
              const live = submitted.filter((x) => x.outcomes.length === 0 && x.abort !== undefined);
              live[s.pick % Math.max(1, live.length)]?.abort?.abort();
              break;
            }
            case 'release': {
              const live = submitted.filter((x) => x.lease !== undefined && !x.released);
              const victim = live[s.pick % Math.max(1, live.length)];
              if (victim !== undefined) {
                victim.released = true;
                victim.lease!.release();
                saturation.end();
              }
              break;
            }
            case 'limit':
              saturation.setLimit(s.limit);
              break;
            case 'advance':
              clock.advance(s.ms);
              break;
            case 'flush':
              await flushMicrotasks(2);
              break;
          }
          checkInvariants();
          await flushMicrotasks(1);
          checkInvariants();
        }

        await ctl.close();
        await flushMicrotasks(2);
        checkInvariants();
        for (const sub of submitted) expect(sub.outcomes).toHaveLength(1);
        expect(ctl.stats().queuedRequests).toBe(0);
        for (const sub of submitted) {
          if (sub.lease !== undefined && !sub.released) {
            sub.released = true;
            sub.lease.release();
          }
        }
        expect(ctl.stats().inflight).toBe(0);
        expect(clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});
