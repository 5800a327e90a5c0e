// The simulated gateway: the request path of src/gateway/pipeline.ts minus HTTP. Queue in flow control (when the
// system has it), schedule and count in flight inside onDispatch, send to the chosen engine, release the lease
// with the actual usage when the response ends; shed requests get the answer rejectionFor() would give. Every
// request is evictable in flight as the proxy makes it (flow control decides who): the engine request is
// aborted (freeing its KV blocks and batch slot), the client gets 429 `evicted` if no token reached it yet,
// else its stream is ended (the default `startedResponses: end`), and the tenant is charged nothing.
import { type ManualClock, type TimerHandle } from '../../src/core/index.js';
import { type InflightTicket } from '../../src/datalayer/index.js';
import { type EvictionTarget, type Lease } from '../../src/flowcontrol/index.js';
import { DEFAULT_RETRY_ADVICE, evictedInFlight, rejectionFor } from '../../src/gateway/outcome-response.js';
import { type Recorder, type RequestRecord } from './recorder.js';
import { type SimPool } from './sim-pool.js';
import { type GatewaySystem, type InflightPort } from './systems.js';
import { MODEL, type PlannedRequest } from './traffic.js';

export class SimGateway {
  private readonly inflight: InflightPort;

  constructor(
    private readonly clock: ManualClock,
    private readonly pool: SimPool,
    private readonly system: GatewaySystem,
    private readonly recorder: Recorder,
    /** Called at each dispatch (replica runs count them per replica). */
    private readonly onDispatched: () => void = () => {},
  ) {
    this.inflight = system.inflight ?? pool.inflight;
  }

  async send(r: PlannedRequest): Promise<void> {
    const { clock, pool, system, recorder } = this;
    const arrivedAt = clock.now();
    const rec = recorder.arrive(r, arrivedAt);
    const estimatedCost = r.promptTokens + r.maxTokens;
    const abort = new AbortController();
    let submitted = false;
    const clientTimer: TimerHandle = clock.setTimeout(() => {
      rec.answeredAfterMs = clock.now() - arrivedAt;
      recorder.settle(rec, 'timeout', clock.now());
      abort.abort();
      if (submitted && rec.endpoint !== undefined) pool.engine(rec.endpoint).abort(r.id);
    }, r.clientTimeoutMs);

    let ticket: InflightTicket | undefined;
    let endpoint: string | undefined;
    const place = (dispatched?: Lease): void => {
      system.gate?.consume();
      const result = system.scheduler.schedule(
        { model: MODEL, prefixHashes: r.schedulerHashes, estimatedTokens: estimatedCost, endpointCount: 1, pacePrefill: dispatched?.pacePrefill === true },
        pool.store.current(),
        this.inflight,
      );
      if (result.kind !== 'scheduled') return;
      const primary = result.endpoints[0];
      if (primary === undefined) return;
      endpoint = primary.id;
      // Every simulated request streams, so its first token says when its prefill is done.
      ticket = this.inflight.begin(primary.id, estimatedCost, r.promptTokens);
      this.onDispatched();
      if (r.schedulerHashes.length > 0) system.scheduler.recordRouting(r.schedulerHashes, primary);
    };

    // Eviction before the engine has the request (between dispatch and submit) or while it runs.
    let evicted = false;
    const evictionTarget: EvictionTarget = {
      evict: (eviction) => {
        if (rec.outcome !== undefined || evicted) return false; // finished (or gave up) before the decision landed
        evicted = true;
        const started = rec.ttftMs !== undefined;
        const answer = evictedInFlight(eviction.message, DEFAULT_RETRY_ADVICE);
        // A stream already started is ended with an error event: no new status, so no Retry-After.
        if (started) this.shed(rec, 'stream ended: evicted', undefined, arrivedAt, clientTimer);
        else this.shed(rec, `${answer.status} ${answer.reason}`, answer.retryAfterSeconds, arrivedAt, clientTimer);
        rec.evictedAtMs = clock.now();
        // The abort is I/O in the proxy: done after the decision, as the EvictionTarget contract asks.
        if (submitted && rec.endpoint !== undefined) {
          const engine = pool.engine(rec.endpoint);
          queueMicrotask(() => engine.abort(r.id)); // its onFinish releases the lease and the ticket
        }
        return true;
      },
    };

    let lease: Lease | undefined;
    if (system.flow !== undefined) {
      const outcome = await system.flow.enqueueAndWait(
        { id: r.id, fairnessId: r.tenant, priority: r.priority, byteSize: r.promptChars, estimatedCost, arrivedAt },
        { signal: abort.signal, onDispatch: place, evictionTarget },
      );
      if (outcome.kind !== 'dispatched') {
        if (rec.outcome !== undefined) return; // the client had already given up (evicted: cancelled)
        const answer = rejectionFor(outcome, pool.store.current().endpoints.length > 0, DEFAULT_RETRY_ADVICE);
        this.shed(rec, `${answer.status} ${answer.reason}`, answer.retryAfterSeconds, arrivedAt, clientTimer);
        return;
      }
      lease = outcome.lease;
    } else {
      place();
    }
    const chosen = endpoint;
    if (chosen === undefined || rec.outcome !== undefined) {
      lease?.release(evicted ? { promptTokens: 0, outputTokens: 0 } : undefined);
      if (ticket !== undefined) this.inflight.end(ticket);
      if (rec.outcome === undefined) this.shed(rec, '503 unschedulable', DEFAULT_RETRY_ADVICE.unavailableSeconds, arrivedAt, clientTimer);
      return;
    }
    const now = clock.now();
    recorder.dispatched(rec, chosen, now);
    submitted = true;
    const held = ticket;
    pool.engine(chosen).submit(
      { id: r.id, promptTokens: r.promptTokens, blockHashes: r.blockHashes, maxTokens: r.maxTokens, outputTokens: r.outputTokens },
      {
        onToken: (index, t) => {
          if (index === 0) {
            if (held !== undefined) this.inflight.started(held);
            rec.ttftMs = t - arrivedAt;
            recorder.tokens(r.tenant, r.promptTokens, t);
          }
          recorder.tokens(r.tenant, 1, t);
          // As the proxy's stream reader does: progress orders the victims (least progress goes first).
          if (lease?.evictable === true) lease.reportProgress(index + 1);
        },
        onFinish: (result) => {
          clock.clearTimeout(clientTimer);
          const complete = result.reason !== 'abort';
          // An evicted tenant is charged nothing, as in the pipeline.
          lease?.release(complete ? { promptTokens: result.promptTokens, outputTokens: result.outputTokens } : evicted ? { promptTokens: 0, outputTokens: 0 } : undefined);
          if (held !== undefined) this.inflight.end(held);
          recorder.left(rec);
          if (complete) {
            rec.e2eMs = result.finishMs - arrivedAt;
            recorder.settle(rec, 'completed', result.finishMs);
          }
        },
      },
    );
  }

  private shed(rec: RequestRecord, reason: string, retryAfter: number | undefined, arrivedAt: number, timer: TimerHandle): void {
    this.clock.clearTimeout(timer);
    rec.shedReason = reason;
    rec.retryAfterSeconds = retryAfter;
    rec.answeredAfterMs = this.clock.now() - arrivedAt;
    this.recorder.settle(rec, 'shed', this.clock.now());
  }
}
