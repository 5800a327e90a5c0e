// The baseline a Node user would pick: p-queue v8 in priority mode (`add(fn, { priority })`), fed the same
// requests; a task "dispatches" when p-queue starts it and completes on the next event-loop turn.
import PQueue from 'p-queue';
import { type FlowRequest } from '../../src/flowcontrol/index.js';
import { type CallerFactory } from './closed-loop.js';
import { type BurstFigures } from './engine.js';
import { BatchReleaser } from './releaser.js';

/**
 * Callers of a p-queue (concurrency Infinity: free flow, tasks complete on a later microtask; 100: the backlog's
 * concurrency limit, tasks complete on the next event-loop turn), timed exactly as the engine's callers.
 */
export function pqueueCallers(queue: PQueue): CallerFactory {
  const releaser = new BatchReleaser(queue.concurrency === Infinity ? 'microtask' : 'next-turn');
  return (onDispatched) => {
    const task = (): Promise<void> => {
      onDispatched();
      return releaser.hold();
    };
    return (request) => queue.add(task, { priority: request.priority });
  };
}

/** Pushes all `requests` at once into a p-queue with concurrency `limit`; each task completes on the next turn. */
export async function pqueueBurst(requests: readonly FlowRequest[], limit: number): Promise<BurstFigures> {
  const queue = new PQueue({ concurrency: limit });
  const releaser = new BatchReleaser();
  const n = requests.length;
  let dispatched = 0;
  let end = 0;
  const task = (): Promise<void> => {
    if (++dispatched === n) end = performance.now();
    return releaser.hold();
  };
  const start = performance.now();
  for (const r of requests) void queue.add(task, { priority: r.priority });
  const enqueueMs = performance.now() - start;
  await queue.onIdle();
  if (dispatched !== n) throw new Error(`p-queue burst: ${dispatched} of ${n} dispatched`);
  const ms = end - start;
  return { requests: n, enqueueMs, ms, perSec: (n / ms) * 1000 };
}
