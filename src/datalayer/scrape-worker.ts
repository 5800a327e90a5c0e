// Scrape worker entry: runs the in-thread scrape runner on this worker thread's event loop and sends its outcomes
// to the dispatch thread as compact batches (at most BATCH_MAX outcomes, the oldest at most BATCH_WINDOW_MS old);
// log lines go there too (one logger per process).
import { parentPort, workerData } from 'node:worker_threads';
import { type Logger, mathRandom, systemClock } from '../core/index.js';
import { httpMetricsFetcherFactory } from './metrics-fetcher.js';
import { InThreadScrapeRunner } from './scrape-runner.js';
import { lowerThreadPriority } from './thread-priority.js';
import { type FromWorker, type ScrapeWorkerInit, type ToWorker, OutcomeBatchWriter } from './scrape-wire.js';

function main(): void {
  const port = parentPort;
  if (port === null) throw new Error('scrape-worker runs only as a worker thread');
  const init = workerData as ScrapeWorkerInit;
  const send = (message: FromWorker): void => port.postMessage(message);
  const logger: Logger = {
    debug: (obj, msg) => send({ kind: 'log', level: 'debug', obj: plain(obj), msg }),
    info: (obj, msg) => send({ kind: 'log', level: 'info', obj: plain(obj), msg }),
    warn: (obj, msg) => send({ kind: 'log', level: 'warn', obj: plain(obj), msg }),
    error: (obj, msg) => send({ kind: 'log', level: 'error', obj: plain(obj), msg }),
    child: () => logger,
  };
  const priority = lowerThreadPriority(init.nice);
  if (priority.applied) logger.debug({ nice: priority.nice }, 'scrape worker thread priority lowered');
  else if (init.nice > 0) logger.info({ reason: priority.reason }, 'scrape worker thread priority left as it is');
  let token = init.token;
  const slots = new Map<string, number>();
  const batch = new OutcomeBatchWriter(performance.timeOrigin);
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    if (flushTimer !== undefined) clearTimeout(flushTimer);
    flushTimer = undefined;
    if (batch.size === 0) return;
    const { nums, extras } = batch.take();
    port.postMessage({ kind: 'outcomes', nums, extras } satisfies FromWorker, [nums.buffer as ArrayBuffer]);
  };
  const runner = new InThreadScrapeRunner({
    fetcherFactory: httpMetricsFetcherFactory({ ...init.fetch, bearerToken: () => token }),
    clock: systemClock,
    logger,
    random: mathRandom,
    timing: init.timing,
    onOutcome: (id, outcome) => {
      const slot = slots.get(id);
      if (slot === undefined) return;
      const now = performance.now();
      batch.add(slot, outcome, now);
      // Due (full, or its window over while this loop turn still runs: the timer would wait for the turn's
      // end, and a busy worker's turn lasts tens of milliseconds): sent at once. The window delays no scrape,
      // only when its result is applied.
      if (batch.due(now)) flush();
      else flushTimer ??= setTimeout(flush, batch.msUntilDue(now));
    },
  });
  port.on('message', (message: ToWorker) => {
    switch (message.kind) {
      case 'add': {
        const previous = slots.get(message.id);
        if (previous !== undefined) batch.forget(previous);
        slots.set(message.id, message.slot);
        runner.add({ id: message.id, target: message.target, names: message.names, initialDelayMs: message.initialDelayMs });
        return;
      }
      case 'remove': {
        const slot = slots.get(message.id);
        if (slot !== undefined) batch.forget(slot);
        slots.delete(message.id);
        void runner.remove(message.id);
        return;
      }
      case 'token':
        token = message.token;
        return;
      case 'close':
        void runner.close().then(() => {
          flush();
          send({ kind: 'closed' });
          port.close();
        });
        return;
    }
  });
}

/** Errors do not survive structured cloning whole: keep their message and code. */
function plain(obj: object): object {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = v instanceof Error ? { message: v.message, code: (v as { code?: unknown }).code } : v;
  }
  return out;
}

main();
