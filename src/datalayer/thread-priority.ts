// Lowers the calling thread's CPU scheduling priority. The scrape worker runs at a higher nice value than the
// dispatch thread, so on a busy host the operating system runs the dispatch thread first when both want a core:
// a scrape answered a little later costs nothing, a dispatch held up by scraping costs every request latency.
// Linux only: there setpriority() on a thread id applies to that thread alone (elsewhere it would renice the
// whole process, dispatch thread included), so other platforms leave the priority as it is.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

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
