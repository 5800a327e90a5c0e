// Observer fan-outs (flow control's, the gateway's, the scrapes'): every observer is told of every event in order,
// one that throws is logged by name at most once a minute and keeps neither the others from being told nor a
// request from its one outcome.
import { describe, expect, it } from 'vitest';
import { ManualClock, ObserverFaults, type ObserverMethods, fanOutObservers, noopLogger } from '../../../src/core/index.js';
import { type ScrapeListener, fanOutScrapes } from '../../../src/datalayer/index.js';
import {
  FlowController,
  type FlowControlObserver,
  type FlowRequest,
  type Outcome,
  fanOutFlowControlObserver,
  noopFlowControlObserver,
} from '../../../src/flowcontrol/index.js';
import { type ConnectFailureEvent, type DecisionEvent, type GatewayObserver, fanOutGatewayObserver, noopGatewayObserver } from '../../../src/gateway/index.js';
import { flushMicrotasks } from '../../support/flush.js';
import { inferenceRequest, pipelineFixture } from '../../support/pipeline-fixture.js';
import { SettableSaturation } from '../../support/settable-saturation.js';
import { RecordingLogger } from '../datalayer/fakes.js';

/** An observer of any interface whose every method throws. */
function throwing<T>(): T {
  return new Proxy(
    {},
    {
      get: () => () => {
        throw new Error('observer bug');
      },
    },
  ) as T;
}

/** The observer names the error lines of `logger` give, in order. */
function blamed(logger: RecordingLogger): unknown[] {
  return logger.entries.filter((e) => e.level === 'error').map((e) => (e.obj as { observer?: unknown }).observer);
}

let nextId = 0;
function req(fairnessId: string, extra: Partial<FlowRequest> = {}): FlowRequest {
  return { id: `r${nextId++}`, fairnessId, priority: 0, byteSize: 10, estimatedCost: 100, ...extra };
}

describe('fan-out observers', () => {
  it('forward every event to every observer in order, skipping optional methods an observer lacks', () => {
    const seen: string[] = [];
    const gw = (name: string): GatewayObserver => ({
      onDecision: (e: DecisionEvent) => seen.push(`${name}:${e.result}`),
      onResponse: () => seen.push(`${name}:response`),
      onConnectFailure: (e: ConnectFailureEvent) => seen.push(`${name}:${e.endpoint}`),
    });
    const faults = new ObserverFaults(noopLogger);
    const all = fanOutGatewayObserver({ a: gw('a'), bare: { onDecision: () => {}, onResponse: () => {} }, b: gw('b') }, faults);
    all.onDecision({ model: 'm', targetModel: 'm', objective: 'o', fairnessId: 't', priority: 0, result: 'capacity', status: 429, queueMs: 0, scheduleMs: 0, endpoint: undefined });
    all.onConnectFailure?.({ endpoint: 'e:1', retried: true });
    all.onServed?.({ endpoint: 'e:1' });
    expect(seen).toEqual(['a:capacity', 'b:capacity', 'a:e:1', 'b:e:1']);
    expect(fanOutGatewayObserver({}, faults)).toBe(noopGatewayObserver);
    expect(fanOutFlowControlObserver({}, faults)).toBe(noopFlowControlObserver);
  });

  it('pass all four arguments on; a method list for a method of five parameters, or a rest parameter, does not compile', () => {
    interface Four {
      event(a: number, b: string, c: boolean, d?: number): void;
    }
    const heard: unknown[][] = [];
    const four: ObserverMethods<Four> = { event: true };
    const all = fanOutObservers<Four>({ x: { event: (...args: unknown[]) => heard.push(args) } }, four, new ObserverFaults(noopLogger));
    all.event(1, 'two', true, 4);
    expect(heard).toEqual([[1, 'two', true, 4]]);

    // Checked by `npm run typecheck` (tsconfig includes test/): the fan-out would drop a fifth argument silently.
    interface Five {
      event(a: number, b: number, c: number, d: number, e: number): void;
    }
    interface Rest {
      event(...args: number[]): void;
    }
    // @ts-expect-error a fifth parameter: the entry is typed never
    const five: ObserverMethods<Five> = { event: true };
    // @ts-expect-error a rest parameter may take any number: the entry is typed never
    const rest: ObserverMethods<Rest> = { event: true };
    expect([five, rest]).toEqual([{ event: true }, { event: true }]);
  });

  it('flow control: a throwing observer beside a counting one; every request reaches exactly one outcome and the counting one hears of each', async () => {
    const clock = new ManualClock(0);
    const logger = new RecordingLogger();
    const saturation = new SettableSaturation(0);
    const counts = { outcomes: 0, queued: 0, releases: 0, cycles: 0 };
    const counting: FlowControlObserver = {
      onOutcome: () => counts.outcomes++,
      onDispatchCycle: () => counts.cycles++,
      onRelease: () => counts.releases++,
      onQueued: () => counts.queued++,
    };
    const fc = new FlowController({
      saturation,
      clock,
      // The throwing observer first: unguarded, its throw would skip the counting one and cut the controller's
      // bookkeeping short mid-operation.
      observer: fanOutFlowControlObserver({ broken: throwing<FlowControlObserver>(), counting }, new ObserverFaults(logger, clock)),
      bands: [{ priority: 0, maxRequests: 3 }],
    });
    const outcomes = new Map<string, Outcome[]>();
    const enqueue = (r: FlowRequest): void => {
      outcomes.set(r.id, []);
      fc.enqueue(r, (o) => outcomes.get(r.id)?.push(o));
    };
    enqueue(req('fast')); // dispatched at once (free pool)
    await flushMicrotasks();
    saturation.set(2); // the gate shuts: the next ones queue
    enqueue(req('a', { ttlMs: 100 })); // expires
    enqueue(req('b'));
    enqueue(req('c'));
    enqueue(req('d')); // over the band's 3: rejected
    await flushMicrotasks();
    clock.advance(150);
    await flushMicrotasks();
    saturation.set(0); // the rest dispatch
    await flushMicrotasks();
    clock.advance(10);
    await flushMicrotasks();

    const kinds = [...outcomes.values()].map((list) => list.map((o) => (o.kind === 'dispatched' ? 'dispatched' : `${o.kind}:${o.reason}`)));
    expect(kinds).toEqual([['dispatched'], ['evicted:ttl'], ['dispatched'], ['dispatched'], ['rejected:capacity']]);
    expect(counts.outcomes).toBe(5);
    expect(counts.queued).toBe(3);
    for (const list of outcomes.values()) {
      const o = list[0];
      if (o?.kind === 'dispatched') o.lease.release();
    }
    await flushMicrotasks();
    expect(counts.releases).toBe(3);
    expect(counts.cycles).toBeGreaterThan(0);
    // Logged once, by name, however often it threw within the minute.
    expect(blamed(logger)).toEqual(['broken']);
    expect(fc.stats().queuedRequests).toBe(0);
    await fc.close();
  });

  it('the gateway: a throwing observer beside a counting one; each request still gets its decision and the counting one hears every event', async () => {
    const logger = new RecordingLogger();
    const decisions: string[] = [];
    const counting: GatewayObserver = { onDecision: (e) => decisions.push(e.result), onResponse: () => {} };
    const observer = fanOutGatewayObserver({ broken: throwing<GatewayObserver>(), counting }, new ObserverFaults(logger));
    const { pipeline } = await pipelineFixture({ observer });
    const ok = await pipeline.handle(inferenceRequest({ model: 'm', prompt: 'hello' }));
    const bad = await pipeline.handle(inferenceRequest('not json'));
    expect([ok.kind, bad.kind]).toEqual(['route', 'reject']);
    expect(decisions).toEqual(['routed', 'bad-request']);
    expect(blamed(logger)).toEqual(['broken']);
  });

  it('scrapes: a throwing listener beside a counting one; the counting one hears of every scrape, failure and removal', () => {
    const logger = new RecordingLogger();
    const heard: string[] = [];
    const counting: ScrapeListener = {
      markScraped: (id) => heard.push(`scraped ${id}`),
      scrapeFailed: (id, unreachable) => heard.push(`failed ${id} ${unreachable}`),
      forget: (id) => heard.push(`forget ${id}`),
    };
    const scrapes = fanOutScrapes({ inflight: throwing<ScrapeListener>(), reachability: counting }, new ObserverFaults(logger));
    scrapes.markScraped('a:1', 0);
    scrapes.scrapeFailed?.('a:1', true, 'connect: refused');
    scrapes.forget?.('a:1');
    expect(heard).toEqual(['scraped a:1', 'failed a:1 true', 'forget a:1']);
    expect(blamed(logger)).toEqual(['inflight']);
  });

  it('logs a throwing observer at most once a minute, per observer, with the count of throws not logged', () => {
    const clock = new ManualClock(0);
    const logger = new RecordingLogger();
    const faults = new ObserverFaults(logger, clock);
    for (let i = 0; i < 5; i++) faults.report('metrics', 'onOutcome', new Error('x'));
    faults.report('status', 'onRelease', new Error('y'));
    expect(blamed(logger)).toEqual(['metrics', 'status']);
    clock.advance(59_999);
    faults.report('metrics', 'onOutcome', new Error('x'));
    expect(blamed(logger)).toEqual(['metrics', 'status']);
    clock.advance(1);
    faults.report('metrics', 'onDispatchCycle', new Error('z'));
    expect(blamed(logger)).toEqual(['metrics', 'status', 'metrics']);
    const last = logger.entries.at(-1)?.obj as { event?: string; suppressedSinceLastLog?: number; err?: Error };
    expect(last).toMatchObject({ event: 'onDispatchCycle', suppressedSinceLastLog: 5 });
    expect(last.err?.message).toBe('z');
  });
});
