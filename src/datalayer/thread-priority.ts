// OS scheduling priority of this process's threads. The scrape worker runs at a higher nice value than the
// dispatch thread, and so, once it runs, do the process's background threads (V8's platform workers collect its
// garbage): on a busy host the operating system runs the dispatch thread first when it and they want a core.
// A scrape answered a little later costs nothing, a dispatch held up by scraping costs every request latency.
// Linux only: there setpriority() on a thread id applies to that thread alone (elsewhere it would renice the
// whole process, dispatch thread included), so other platforms leave the priority as it is.
import { randomFill } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { isMainThread } from 'node:worker_threads';

/** The highest (least favoured) nice value. */
const MAX_NICE = 19;

export type ThreadPriorityResult =
  | { readonly applied: true; readonly nice: number }
  | { readonly applied: false; readonly reason: string };

/** The kernel's id of the calling thread ("<pid>/task/<tid>"), or undefined where /proc does not give one. */
function ownThreadId(): number | undefined {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  return Number.isInteger(tid) && tid > 0 ? tid : undefined;
}

/**
 * Adds `increment` (0-19) to the calling thread's nice value, capped at 19. Raising one's own nice value needs no
 * privilege; failures are reported, never thrown.
 */
export function lowerThreadPriority(increment: number, platform: NodeJS.Platform = process.platform): ThreadPriorityResult {
  if (increment <= 0) return { applied: false, reason: 'no increment asked for' };
  if (platform !== 'linux') return { applied: false, reason: `per-thread priority is not supported on ${platform}` };
  try {
    const tid = ownThreadId();
    if (tid === undefined) return { applied: false, reason: 'no thread id in /proc/thread-self' };
    const nice = Math.min(MAX_NICE, getPriority(tid) + increment);
    setPriority(tid, nice);
    return { applied: true, nice: getPriority(tid) };
  } catch (err: unknown) {
    return { applied: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

export type BackgroundPriorityResult =
  /** `nice`: the value the others now have at least; `lowered`: how many had less. */
  | { readonly applied: true; readonly nice: number; readonly lowered: number }
  | { readonly applied: false; readonly reason: string };

/**
 * Gives every other thread this process has now at least the nice value the scrape worker takes (the caller's
 * plus `increment`, capped at 19, as lowerThreadPriority computes it): V8's platform workers, which run both
 * isolates' parallel scavenges, concurrent marking and compilation; libuv's threadpool (fs, dns.lookup, crypto,
 * zlib: none of it on a request's path); Node's own helpers. None is raised above what it has. Call on the main
 * (dispatch) thread just before the scrape worker starts, once the threadpool has started (startThreadpool).
 * Why: the worker lowers only its own thread, but its garbage is collected by V8's platform workers at the
 * process's priority; a perf sched trace at 1,000 endpoints showed the dispatch thread waiting behind them for
 * 1-4 ms (the kernel protects a running thread's slice, and its tick is 4 ms). The dispatch thread's own
 * collections get the same help at the lower value: on a contended core they wait for its turn, which is why this
 * runs only where a scrape worker does. Threads started later take their creator's value. Linux only, as
 * lowerThreadPriority; never throws.
 */
export function lowerBackgroundThreads(increment: number, platform: NodeJS.Platform = process.platform): BackgroundPriorityResult {
  if (increment <= 0) return { applied: false, reason: 'no increment asked for' };
  if (platform !== 'linux') return { applied: false, reason: `per-thread priority is not supported on ${platform}` };
  if (!isMainThread) return { applied: false, reason: 'not called on the main thread' };
  try {
    const own = ownThreadId();
    if (own === undefined) return { applied: false, reason: 'no thread id in /proc/thread-self' };
    const target = Math.min(MAX_NICE, getPriority(own) + increment);
    let lowered = 0;
    for (const name of readdirSync('/proc/self/task')) {
      const tid = Number(name);
      if (tid === own || !Number.isInteger(tid) || tid <= 0) continue;
      try {
        if (getPriority(tid) < target) {
          setPriority(tid, target);
          lowered++;
        }
      } catch {
        // A thread that ended meanwhile.
      }
    }
    return { applied: true, nice: target, lowered };
  } catch (err: unknown) {
    return { applied: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

let threadpoolStarted = false;

/**
 * Makes sure libuv's threadpool (the process's fs, dns.lookup, crypto and zlib work) has its threads before a
 * scrape worker starts, so they are the dispatch thread's and lowerBackgroundThreads finds them. The pool makes
 * its threads when work is first queued on it, on the thread that queues it, and Linux gives a new thread its
 * creator's nice value: a scrape worker that queued first (a dns.lookup for a hostname endpoint) after renicing
 * itself would otherwise leave the pool at whatever it had then. One threadpool task, once per process: filling
 * one random byte (queueing it is what starts the pool; its answer is not needed, and it touches no file). On
 * Node 20 the pool has usually started already (loading ES modules uses it).
 */
export function startThreadpool(): void {
  if (threadpoolStarted) return;
  threadpoolStarted = true;
  randomFill(new Uint8Array(1), () => undefined);
}
