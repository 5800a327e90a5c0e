// Test doubles for the data layer, named by behaviour.
import { type Logger } from '../../../src/core/index.js';
import {
  type FetchDone,
  type MetricsBodySink,
  type MetricsFetcher,
  type MetricsTarget,
  type ScrapeFailure,
  toScrapeFailure,
} from '../../../src/datalayer/index.js';

/** Records every log call; `lines(level)` lists the messages. */
export class RecordingLogger implements Logger {
  readonly entries: { level: string; obj: object; msg: string | undefined }[] = [];
  debug(obj: object, msg?: string): void {
    this.entries.push({ level: 'debug', obj, msg });
  }
  info(obj: object, msg?: string): void {
    this.entries.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg?: string): void {
    this.entries.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg?: string): void {
    this.entries.push({ level: 'error', obj, msg });
  }
  child(): Logger {
    return this;
  }
  lines(level: string): (string | undefined)[] {
    return this.entries.filter((e) => e.level === level).map((e) => e.msg);
  }
}

/**
 * A fetcher answering from a script: each call takes the current `respond` behaviour. `hang` never settles
 * until aborted, as a stuck server would. Counts calls, concurrent calls and closes.
 */
export class ScriptedFetcher implements MetricsFetcher {
  respond:
    | { kind: 'text'; text: string }
    | { kind: 'error'; message: string; code?: string }
    | { kind: 'fail'; failure: ScrapeFailure }
    | { kind: 'hang' }
    | { kind: 'manual' } = { kind: 'text', text: '' };
  calls = 0;
  active = 0;
  maxActive = 0;
  closed = false;
  private release: ((text: string) => void) | undefined;
  private controller: AbortController | undefined;

  constructor(readonly target?: MetricsTarget) {}

  start(sink: MetricsBodySink, done: FetchDone): void {
    const controller = new AbortController();
    this.controller = controller;
    this.fetch(controller.signal, sink).then(
      () => done(undefined),
      (err: unknown) => done(toScrapeFailure(err)),
    );
  }

  abort(failure: ScrapeFailure): void {
    this.controller?.abort(failure);
  }

  private async fetch(signal: AbortSignal, sink: MetricsBodySink): Promise<void> {
    this.calls++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      const r = this.respond;
      let text: string;
      if (r.kind === 'text') text = r.text;
      else if (r.kind === 'error') throw Object.assign(new Error(r.message), r.code !== undefined ? { code: r.code } : {});
      else if (r.kind === 'fail') throw r.failure;
      else {
        text = await new Promise<string>((resolve, reject) => {
          if (r.kind === 'manual') this.release = resolve;
          signal.addEventListener('abort', () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')), { once: true });
        });
      }
      sink.push(Buffer.from(text));
    } finally {
      this.active--;
    }
  }

  /** Completes a pending `manual` fetch. */
  finish(text: string): void {
    this.release?.(text);
    this.release = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Lets pending promise callbacks run (fetch resolution, scraper continuation). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
