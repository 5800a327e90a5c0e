// Lowers the calling thread's CPU scheduling priority. The scrape worker runs at a higher nice value than the
// dispatch thread, so on a busy host the operating system runs the dispatch thread first when both want a core:
// a scrape answered a little later costs nothing, a dispatch held up by scraping costs every request latency.
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

/**
 * Adds `increment` (0-19) to the calling thread's nice value, capped at 19. Raising one's own nice value needs no
 * privilege; failures are reported, never thrown.
 */
export function lowerThreadPriority(increment: number, platform: NodeJS.Platform = process.platform): ThreadPriorityResult {
  if (increment <= 0) return { applied: false, reason: 'no increment asked for' };
  if (platform !== 'linux') return { applied: false, reason: `per-thread priority is not supported on ${platform}` };
  try {
    // "<pid>/task/<tid>": the kernel's id of this very thread.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return { applied: false, reason: 'no thread id in /proc/thread-self' };
    const nice = Math.min(MAX_NICE, getPriority(tid) + increment);
    setPriority(tid, nice);
    return { applied: true, nice: getPriority(tid) };
  } catch (err: unknown) {
    return { applied: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

export type BackgroundPriorityResult =
  | { readonly applied: true; readonly threads: number }
  | { readonly applied: false; readonly reason: string };

/**
 * Raises to at least `nice` the nice value of every other thread this process has now: V8's platform workers
 * (which run both isolates' parallel scavenges, concurrent marking and compilation), libuv's threadpool and
 * Node's own helpers. Call on the main (dispatch) thread, after startThreadpool and before the scrape worker
 * starts. Why: the scrape worker lowers only its own thread, but most of its garbage is collected by V8's
 * platform workers at the process's priority; a perf sched trace at 1,000 endpoints showed the dispatch thread
 * waiting behind them for 1-4 ms (the kernel protects a running thread's slice, and its tick is 4 ms). At the
 * worker's nice value, that work yields to the dispatch thread as the worker's own does. Threads started later
 * take their creator's value (the worker lowers itself). Linux only, as lowerThreadPriority; never throws.
 */
export function lowerBackgroundThreads(nice: number, platform: NodeJS.Platform = process.platform): BackgroundPriorityResult {
  if (nice <= 0) return { applied: false, reason: 'no nice value asked for' };
  if (platform !== 'linux') return { applied: false, reason: `per-thread priority is not supported on ${platform}` };
  if (!isMainThread) return { applied: false, reason: 'not called on the main thread' };
  const target = Math.min(MAX_NICE, nice);
  try {
    const own = Number(readlinkSync('/proc/thread-self').split('/').pop());
    let threads = 0;
    for (const name of readdirSync('/proc/self/task')) {
      const tid = Number(name);
      if (tid === own || !Number.isInteger(tid)) continue;
      try {
        if (getPriority(tid) < target) setPriority(tid, target);
        threads++;
      } catch {
        // A thread that ended meanwhile.
      }
    }
    return { applied: true, threads };
  } catch (err: unknown) {
    return { applied: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

let threadpoolStarted = false;

/**
 * Makes sure libuv's threadpool (the process's fs, dns.lookup, crypto and zlib work) has its threads before a
 * thread lowers its own priority. The pool makes its threads when work is first queued on it, on the thread that
 * queues it, and Linux gives a new thread its creator's nice value: a scrape worker that queued first (a
 * dns.lookup for a hostname endpoint) after renicing itself would leave the whole pool, this thread's work
 * included, at its lowered priority. Call on the thread whose priority the pool should have, before starting the
 * thread that lowers its own. One threadpool task, once per process: filling one random byte (queueing it is what
 * starts the pool; its answer is not needed, and it touches no file). On Node 20 the pool has usually started
 * already (loading ES modules uses it).
 */
export function startThreadpool(): void {
  if (threadpoolStarted) return;
  threadpoolStarted = true;
  randomFill(new Uint8Array(1), () => undefined);
}
