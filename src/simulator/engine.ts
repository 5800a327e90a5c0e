// The simulated engine: vLLM-style continuous batching over a KV block pool, driven by an injected clock.
import {
  type Clock,
  type Random,
  type TimerHandle,
  FairwayError,
  InvalidArgumentError,
  SeededRandom,
  requireIntegerInRange,
  requirePositive,
  systemClock,
} from '../core/index.js';
import { BlockPool, type BlockAccounting } from './block-pool.js';
import {
  type EngineEvent,
  type EngineObserver,
  type EngineStats,
  type FinishReason,
  type RequestListener,
  type RequestResult,
  type SubmitSpec,
} from './engine-types.js';
import { type SimProfile, validateProfile } from './profile.js';
import { type SchedulingPolicy, type WaitingQueue, createWaitingQueue } from './waiting-queue.js';

export const DEFAULT_TIME_SCALE = 1;
export const DEFAULT_SPEED_FACTOR = 1;
export const DEFAULT_SEED = 1;
export const DEFAULT_MAX_LORAS = 4;
/** Mean output length when the request may stop early (exponential, capped by max_tokens). */
export const DEFAULT_MEAN_NATURAL_OUTPUT_TOKENS = 200;
/** Steps run back to back in one timer callback when real time has overtaken them, before yielding to I/O. */
const MAX_INLINE_STEPS = 64;

export interface SimEngineOptions {
  readonly profile: SimProfile;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Draws output lengths. @default new SeededRandom(DEFAULT_SEED) */
  readonly random?: Random;
  /** Multiplies every duration (2 = twice as slow, 0.1 = ten times faster). @default 1 */
  readonly timeScale?: number;
  /** Relative speed of this server (0.5 = a slow pod taking twice as long). @default 1 */
  readonly speedFactor?: number;
  /** @default 'fcfs' */
  readonly schedulingPolicy?: SchedulingPolicy;
  /** LoRA adapters that may run in one batch (vLLM `max_loras`). @default DEFAULT_MAX_LORAS */
  readonly maxLoras?: number;
  /** @default DEFAULT_MEAN_NATURAL_OUTPUT_TOKENS */
  readonly meanNaturalOutputTokens?: number;
}

type RequestState = 'arriving' | 'waiting' | 'running' | 'done';

interface SimRequest {
  readonly id: string;
  readonly seq: number;
  readonly priority: number;
  readonly lora: string | undefined;
  readonly promptTokens: number;
  readonly blockHashes: readonly number[];
  readonly targetTokens: number;
  readonly naturalReason: 'stop' | 'length';
  readonly listener: RequestListener | undefined;
  readonly arrivalMs: number;
  state: RequestState;
  /** Prompt plus tokens generated so far: what must be in the KV cache to produce the next token. */
  numTokens: number;
  /** Tokens whose KV is computed. `numTokens - computed` is what the next step may schedule. */
  computed: number;
  outputTokens: number;
  blocks: number[];
  /** Leading prompt blocks already registered in the prefix cache. */
  registered: number;
  /** Tokens scheduled in the step in flight. */
  scheduled: number;
  queuedMs: number;
  admittedOnce: boolean;
  cachedTokens: number;
  preemptions: number;
  firstTokenMs: number | undefined;
  lastTokenMs: number;
  overheadTimer: TimerHandle | undefined;
}

/**
 * One simulated server's engine. Each step (vLLM v1 scheduler semantics):
 * 1. running requests take the blocks their next tokens need, preempting the most recently admitted (or, under
 *    the priority policy, the lowest-priority) request when the pool is exhausted;
 * 2. the waiting queue is admitted head first while a sequence slot, token budget and blocks for the uncached
 *    prompt are available (LoRA-blocked requests are skipped, as in vLLM, not head-of-line blocking);
 * 3. decodes take one token each, prefills (chunked) take what is left of the budget;
 * 4. the step lasts `b0 + b1*X + b2*Y + b3*C` (scaled), after which tokens are emitted and finished requests
 *    release their blocks (which stay cached until evicted).
 *
 * Time: a step ends at its nominal time even if the timer fires late, and the next step starts there, so the
 * engine keeps the model's pace under Node's ~1 ms timer granularity. It never spins: with nothing to schedule
 * no timer is armed, and `submit`/`abort` restart the loop.
 *
 * Costs: a step is O(running + admitted prompt blocks); the running list is an array (at most maxNumSeqs) and
 * is rebuilt once per step with finished requests; waiting-queue operations are O(1) (FIFO) or O(log n).
 */
export class SimEngine {
  readonly profile: SimProfile;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly scale: number;
  private readonly maxLoras: number;
  private readonly meanNatural: number;
  private readonly pool: BlockPool;
  private readonly policy: SchedulingPolicy;
  private readonly waiting: WaitingQueue<SimRequest>;
  private running: SimRequest[] = [];
  private readonly batch: SimRequest[] = [];
  private readonly requests = new Map<string, SimRequest>();
  private readonly observers: EngineObserver[] = [];
  private readonly runningLoras = new Map<string, number>();
  private readonly waitingLoras = new Map<string, number>();
  private nextSeq = 0;
  private arriving = 0;
  private preemptions = 0;
  private inStep = false;
  private stepEnd = 0;
  private stepTimer: TimerHandle | undefined;
  private closed = false;

  constructor(options: SimEngineOptions) {
    this.profile = validateProfile(options.profile);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? new SeededRandom(DEFAULT_SEED);
    const timeScale = requirePositive('timeScale', options.timeScale ?? DEFAULT_TIME_SCALE);
    const speedFactor = requirePositive('speedFactor', options.speedFactor ?? DEFAULT_SPEED_FACTOR);
    this.scale = timeScale / speedFactor;
    this.maxLoras = requireIntegerInRange('maxLoras', options.maxLoras ?? DEFAULT_MAX_LORAS, 1, 1024);
    this.meanNatural = requirePositive(
      'meanNaturalOutputTokens',
      options.meanNaturalOutputTokens ?? DEFAULT_MEAN_NATURAL_OUTPUT_TOKENS,
    );
    this.pool = new BlockPool(this.profile.numBlocks);
    this.policy = options.schedulingPolicy ?? 'fcfs';
    this.waiting = createWaitingQueue<SimRequest>(this.policy);
  }

  /** Subscribes to the event log; returns the unsubscribe function. */
  observe(observer: EngineObserver): () => void {
    this.observers.push(observer);
    return () => {
      const i = this.observers.indexOf(observer);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  /**
   * Accepts a request: after the API overhead it joins the waiting queue. Throws InvalidArgumentError when the
   * request cannot fit the context window (the API layer checks this first and answers 400).
   */
  submit(spec: SubmitSpec, listener?: RequestListener): string {
    if (this.closed) throw new FairwayError('ERR_CLOSED', 'simulated engine is closed');
    const p = this.profile;
    const promptTokens = requireIntegerInRange('promptTokens', spec.promptTokens, 1, p.maxModelLen - 1);
    const room = p.maxModelLen - promptTokens;
    const maxTokens = requireIntegerInRange('maxTokens', spec.maxTokens ?? room, 1, room);
    const seq = this.nextSeq++;
    const id = spec.id ?? `req-${seq}`;
    if (this.requests.has(id)) throw new InvalidArgumentError('id', id, 'unique among live requests');
    const [targetTokens, naturalReason] = this.outputLength(spec, maxTokens);
    const now = this.clock.now();
    const r: SimRequest = {
      id,
      seq,
      priority: spec.priority ?? 0,
      lora: spec.lora,
      promptTokens,
      blockHashes: spec.blockHashes ?? [],
      targetTokens,
      naturalReason,
      listener,
      arrivalMs: now,
      state: 'arriving',
      numTokens: promptTokens,
      computed: 0,
      outputTokens: 0,
      blocks: [],
      registered: 0,
      scheduled: 0,
      queuedMs: now,
      admittedOnce: false,
      cachedTokens: 0,
      preemptions: 0,
      firstTokenMs: undefined,
      lastTokenMs: now,
      overheadTimer: undefined,
    };
    this.requests.set(id, r);
    this.arriving++;
    this.emit({ kind: 'arrive', t: now, id, promptTokens, targetTokens });
    const overhead = (p.a0 + p.a1 * promptTokens) * this.scale;
    r.overheadTimer = this.clock.setTimeout(() => this.enqueue(r), overhead);
    return id;
  }

  /** Aborts a live request (client disconnect): it leaves its queue at once and frees its blocks. */
  abort(id: string): boolean {
    const r = this.requests.get(id);
    if (r === undefined) return false;
    this.finish(r, 'abort', this.clock.now());
    if (r.state === 'done') this.running = this.running.filter((x) => x !== r);
    this.kick();
    return true;
  }

  /** Aborts everything and stops the step loop. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.requests.keys()]) this.abort(id);
    if (this.stepTimer !== undefined) this.clock.clearTimeout(this.stepTimer);
    this.stepTimer = undefined;
  }

  stats(): EngineStats {
    return {
      waiting: this.waiting.size,
      running: this.running.length,
      arriving: this.arriving,
      kvUsage: this.pool.usage(),
      usedBlocks: this.pool.used,
      totalBlocks: this.pool.total,
      preemptions: this.preemptions,
      runningLoras: [...this.runningLoras.keys()],
      waitingLoras: [...this.waitingLoras.keys()],
      stepEndMs: this.inStep ? this.stepEnd : undefined,
    };
  }

  /** Block accounting plus the blocks the live requests hold: for conservation checks in tests. */
  inspectBlocks(): BlockAccounting & { readonly heldByRequests: number } {
    let held = 0;
    for (const r of this.running) held += r.blocks.length;
    return { ...this.pool.accounting(), heldByRequests: held };
  }

  /** Whether any request is live (arriving, waiting or running). */
  get busy(): boolean {
    return this.requests.size > 0;
  }

  private outputLength(spec: SubmitSpec, maxTokens: number): [number, 'stop' | 'length'] {
    if (spec.ignoreEos === true) return [maxTokens, 'length'];
    if (spec.outputTokens !== undefined) {
      const forced = requireIntegerInRange('outputTokens', spec.outputTokens, 1, Number.MAX_SAFE_INTEGER);
      return forced >= maxTokens ? [maxTokens, 'length'] : [forced, 'stop'];
    }
    // Exponential with the configured mean: many short answers, a long tail, capped by max_tokens.
    const natural = 1 + Math.floor(-Math.log(1 - this.random.next()) * this.meanNatural);
    return natural >= maxTokens ? [maxTokens, 'length'] : [natural, 'stop'];
  }

  private enqueue(r: SimRequest): void {
    r.overheadTimer = undefined;
    if (r.state !== 'arriving') return;
    this.arriving--;
    r.queuedMs = this.clock.now();
    this.toWaiting(r, false);
    this.emit({ kind: 'queue', t: r.queuedMs, id: r.id });
    this.kick();
  }

  private toWaiting(r: SimRequest, front: boolean): void {
    r.state = 'waiting';
    if (front) this.waiting.pushFront(r);
    else this.waiting.push(r);
    if (r.lora !== undefined) increment(this.waitingLoras, r.lora, 1);
  }

  private fromWaiting(): SimRequest | undefined {
    const r = this.waiting.pop();
    if (r?.lora !== undefined) increment(this.waitingLoras, r.lora, -1);
    return r;
  }

  private kick(): void {
    if (!this.inStep && this.stepTimer === undefined && !this.closed) this.runSteps(this.clock.now());
  }

  private runSteps(start: number): void {
    let begin = start;
    for (let i = 0; i < MAX_INLINE_STEPS; i++) {
      if (!this.beginStep(begin)) {
        // Requests that arrived after the nominal start (a late timer) can still start now.
        const now = this.clock.now();
        if (begin < now && this.waiting.size > 0 && this.beginStep(now)) {
          begin = now;
        } else {
          return;
        }
      }
      if (this.stepEnd > this.clock.now()) break;
      this.endStep();
      begin = this.stepEnd;
    }
    if (!this.inStep) {
      // Ran MAX_INLINE_STEPS behind real time: yield to I/O, then continue.
      this.stepTimer = this.clock.setTimeout(() => {
        this.stepTimer = undefined;
        if (!this.closed && !this.inStep) this.runSteps(this.stepEnd);
      }, 0);
      return;
    }
    this.stepTimer = this.clock.setTimeout(() => this.onStepTimer(), this.stepEnd - this.clock.now());
  }

  private onStepTimer(): void {
    this.stepTimer = undefined;
    this.endStep();
    if (!this.closed) this.runSteps(this.stepEnd);
  }

  /** Forms the next batch starting at `start`; false (and idle) when there is nothing to run. */
  private beginStep(start: number): boolean {
    const p = this.profile;
    this.reserveBlocks(start);
    let budget = p.maxNumBatchedTokens;
    const batch = this.batch;
    batch.length = 0;
    for (const r of this.running) {
      r.scheduled = Math.min(r.numTokens - r.computed, budget);
      budget -= r.scheduled;
      if (r.scheduled > 0) batch.push(r);
    }
    budget = this.admit(start, budget);
    if (batch.length === 0) {
      this.inStep = false;
      return false;
    }
    let prefill = 0;
    let decodes = 0;
    let context = 0;
    for (const r of batch) {
      if (r.outputTokens > 0 && r.scheduled === 1 && r.computed === r.numTokens - 1) {
        decodes++;
        context += r.numTokens;
      } else {
        prefill += r.scheduled;
      }
    }
    const duration = (p.b0 + p.b1 * prefill + p.b2 * decodes + p.b3 * context) * this.scale;
    this.inStep = true;
    this.stepEnd = start + duration;
    this.emit({
      kind: 'step',
      t: start,
      durationMs: duration,
      prefillTokens: prefill,
      decodeSeqs: decodes,
      contextTokens: context,
      running: this.running.length,
      waiting: this.waiting.size,
      usedBlocks: this.pool.used,
    });
    return true;
  }

  /** Phase 1: every running request gets blocks for all its known tokens, preempting when the pool is dry. */
  private reserveBlocks(t: number): void {
    const bs = this.profile.blockSize;
    for (const r of [...this.running]) {
      if (r.state !== 'running') continue;
      let need = Math.ceil(r.numTokens / bs) - r.blocks.length;
      while (need > 0) {
        const block = this.pool.allocate();
        if (block !== undefined) {
          r.blocks.push(block);
          need--;
          continue;
        }
        const victim = this.pickVictim();
        this.preempt(victim, t);
        if (victim === r) break;
      }
    }
  }

  private pickVictim(): SimRequest {
    let victim = this.running[this.running.length - 1] as SimRequest;
    if (this.policy === 'priority') {
      for (const r of this.running) {
        if (r.priority > victim.priority || (r.priority === victim.priority && r.seq > victim.seq)) victim = r;
      }
    }
    return victim;
  }

  private preempt(r: SimRequest, t: number): void {
    this.pool.release(r.blocks);
    r.blocks = [];
    r.computed = 0;
    r.registered = 0;
    r.scheduled = 0;
    r.preemptions++;
    r.queuedMs = t;
    this.preemptions++;
    this.running = this.running.filter((x) => x !== r);
    if (r.lora !== undefined) increment(this.runningLoras, r.lora, -1);
    this.toWaiting(r, true);
    this.emit({ kind: 'preempt', t, id: r.id });
  }

  /** Phase 2: admits from the head of the queue; returns the token budget left. */
  private admit(start: number, budgetIn: number): number {
    const p = this.profile;
    const bs = p.blockSize;
    let budget = budgetIn;
    const skipped: SimRequest[] = [];
    while (budget > 0 && this.running.length < p.maxNumSeqs) {
      const r = this.waiting.peek();
      if (r === undefined || r.queuedMs > start) break;
      if (r.lora !== undefined && !this.runningLoras.has(r.lora) && this.runningLoras.size >= this.maxLoras) {
        this.fromWaiting();
        skipped.push(r);
        continue;
      }
      // vLLM recomputes at least the last token, so a fully cached prompt still has one token to schedule.
      const hits = this.pool.lookup(r.blockHashes, Math.floor((r.numTokens - 1) / bs));
      const fresh = Math.ceil(r.numTokens / bs) - hits.length;
      if (!this.pool.canAllocate(fresh, hits)) break;
      this.fromWaiting();
      this.pool.acquire(hits);
      r.computed = hits.length * bs;
      r.registered = hits.length;
      r.blocks = hits;
      for (let i = 0; i < fresh; i++) r.blocks.push(this.pool.allocate() as number);
      r.state = 'running';
      if (!r.admittedOnce) r.cachedTokens = r.computed;
      if (r.lora !== undefined) increment(this.runningLoras, r.lora, 1);
      this.running.push(r);
      r.scheduled = Math.min(r.numTokens - r.computed, budget);
      budget -= r.scheduled;
      this.batch.push(r);
      this.emit({
        kind: 'admit',
        t: start,
        id: r.id,
        queriedTokens: r.numTokens,
        cachedTokens: r.computed,
        queueMs: start - r.queuedMs,
        resumed: r.admittedOnce,
      });
      r.admittedOnce = true;
    }
    for (let i = skipped.length - 1; i >= 0; i--) this.toWaiting(skipped[i] as SimRequest, true);
    return budget;
  }

  /** End of step: computed tokens land in the cache, tokens are emitted, finished requests leave. */
  private endStep(): void {
    const t = this.stepEnd;
    const bs = this.profile.blockSize;
    let finished = false;
    for (const r of this.batch) {
      if (r.state !== 'running') continue;
      r.computed += r.scheduled;
      r.scheduled = 0;
      const fullPromptBlocks = Math.min(Math.floor(r.computed / bs), r.blockHashes.length);
      for (; r.registered < fullPromptBlocks; r.registered++) {
        this.pool.register(r.blocks[r.registered] as number, r.blockHashes[r.registered] as number);
      }
      if (r.computed < r.numTokens) continue;
      const index = r.outputTokens;
      r.outputTokens++;
      r.numTokens++;
      const latencyMs = index === 0 ? t - r.arrivalMs : t - r.lastTokenMs;
      if (index === 0) r.firstTokenMs = t;
      r.lastTokenMs = t;
      this.emit({ kind: 'token', t, id: r.id, index, latencyMs, promptTokens: r.promptTokens });
      const last = r.outputTokens >= r.targetTokens;
      r.listener?.onToken?.(index, t, last ? r.naturalReason : undefined);
      if (last && r.state === 'running') {
        this.finish(r, r.naturalReason, t);
        finished = true;
      }
    }
    this.batch.length = 0;
    this.inStep = false;
    if (finished) this.running = this.running.filter((r) => r.state === 'running');
  }

  /** Moves a request to `done` from any state, releasing what it holds. Does not touch `running`. */
  private finish(r: SimRequest, reason: FinishReason, t: number): void {
    switch (r.state) {
      case 'done':
        return;
      case 'arriving':
        if (r.overheadTimer !== undefined) this.clock.clearTimeout(r.overheadTimer);
        this.arriving--;
        break;
      case 'waiting':
        this.waiting.forget();
        if (r.lora !== undefined) increment(this.waitingLoras, r.lora, -1);
        break;
      case 'running':
        this.pool.release(r.blocks);
        r.blocks = [];
        if (r.lora !== undefined) increment(this.runningLoras, r.lora, -1);
        break;
    }
    r.state = 'done';
    this.requests.delete(r.id);
    this.emit({ kind: 'finish', t, id: r.id, reason, outputTokens: r.outputTokens, e2eMs: t - r.arrivalMs });
    const result: RequestResult = {
      id: r.id,
      reason,
      promptTokens: r.promptTokens,
      outputTokens: r.outputTokens,
      cachedTokens: r.cachedTokens,
      preemptions: r.preemptions,
      arrivalMs: r.arrivalMs,
      firstTokenMs: r.firstTokenMs,
      finishMs: t,
    };
    r.listener?.onFinish?.(result);
  }

  private emit(event: EngineEvent): void {
    for (const o of this.observers) o(event);
  }
}

function increment(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}
