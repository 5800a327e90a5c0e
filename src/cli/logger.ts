// The CLI's logger: pino JSON to stderr, so stdout stays for the demo's tables and progress. Logging never blocks
// (src/observability/bounded-destination.ts), so a command exits through exitAfterLogs: it waits a bounded time for
// stderr to take what is queued, then exits whether or not anyone reads it.
import { type Logger } from '../core/index.js';
import { createPinoLogger } from '../observability/index.js';

/** How long an exiting command waits for stderr to take its last records (nobody may be reading it). */
export const LOG_FLUSH_TIMEOUT_MS = 2_000;
const FLUSH_POLL_MS = 10;

export function cliLogger(level: string): Logger {
  return createPinoLogger({ level, destination: 2 });
}

/** Exits with `code` once stderr's buffer is empty, or after LOG_FLUSH_TIMEOUT_MS. */
export function exitAfterLogs(code: number): void {
  const deadline = Date.now() + LOG_FLUSH_TIMEOUT_MS;
  const poll = (): void => {
    // Writes to a pipe are asynchronous: process.exit would drop what is still queued.
    if (process.stderr.writableLength === 0 || Date.now() >= deadline) process.exit(code);
    else setTimeout(poll, FLUSH_POLL_MS);
  };
  poll();
}
